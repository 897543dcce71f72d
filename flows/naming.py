"""Flow run names that say which pipeline ran and when."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path


def run_name(prefix: str) -> str:
    """Returns ``<prefix>-<pipeline>-<date>``, such as ``train-wine-2026-12-04``.

    Prefect calls this as a flow's ``flow_run_name`` once the run's parameters
    are known; the pipeline is the spec's name (its file stem if it is invalid,
    which the run then reports).
    """
    from prefect.runtime import flow_run

    from lifecycle.errors import LifecycleError
    from lifecycle.spec import load_spec

    spec = str(flow_run.parameters.get("spec", "pipeline"))
    try:
        pipeline = load_spec(spec).name
    except LifecycleError:
        pipeline = Path(spec).stem
    return f"{prefix}-{pipeline}-{datetime.now(UTC):%Y-%m-%d}"
