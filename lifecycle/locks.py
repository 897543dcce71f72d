"""Prefect global concurrency limits that serialise promotion and scoring."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

logger = logging.getLogger(__name__)

# Long enough for an alias move; a stuck holder's lease lapses after this.
LEASE_SECONDS = 120


def promotion_lock_name(pipeline: str) -> str:
    """The global concurrency limit a pipeline's promotions and scoring share."""
    return f"lifecycle-promotion-{pipeline}"


@contextlib.contextmanager
def promotion_lock(pipeline: str) -> Iterator[None]:
    """Holds the pipeline's promotion slot (a Prefect global concurrency limit).

    The limit is created with one slot when deployments are applied. Where it does
    not exist, or no server is configured, the holder goes through: the champion
    alias is replaced in one rename, so readers stay consistent either way.
    """
    from prefect.concurrency.sync import concurrency
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        # No server: the ephemeral API serves one process, which holds no rival.
        yield
        return
    with concurrency(
        promotion_lock_name(pipeline), occupy=1, lease_duration=LEASE_SECONDS
    ):
        yield
