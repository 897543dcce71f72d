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
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    from lifecycle.errors import LifecycleError

    name = promotion_lock_name(pipeline)
    try:
        holding = concurrency(name, occupy=1, lease_duration=LEASE_SECONDS)
        holding.__enter__()
    except ConcurrencySlotAcquisitionError as exc:
        raise LifecycleError(
            f"cannot take the promotion lock {name!r} on the Prefect server at "
            f"{PREFECT_API_URL.value()}: {exc}; check that the server is up"
        ) from exc
    try:
        yield
    finally:
        holding.__exit__(None, None, None)
