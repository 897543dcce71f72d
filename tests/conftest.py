"""Shared fixtures: the ../shared data folder, a Prefect API, trained pipelines."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Runs the tests against a real Prefect server last.

    Prefect keeps some client services per process; the session's temporary API
    (``prefect_api``) must not inherit ones bound to a server that has stopped.
    """
    items.sort(key=lambda item: "tests/deployments/test_server.py" in item.nodeid)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public tables beside the checkout, or a skip saying why."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"{SHARED_DATA} is absent: the real-data tests need the shared/ folder "
            "beside the checkout"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A temporary Prefect API (its own SQLite database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def train_pipeline(
    prefect_api: None, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Any]:
    """Trains a pipeline through the training flow once per argument set."""
    from flows.training import training_flow

    cache: dict[tuple, Any] = {}

    def train(spec: str, **sources: str | None) -> Any:
        key = (spec, tuple(sorted(sources.items())))
        if key not in cache:
            data_dir = tmp_path_factory.mktemp(f"data-{spec}")
            cache[key] = training_flow(spec=spec, data_dir=str(data_dir), **sources)
        return cache[key]

    return train
