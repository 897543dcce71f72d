"""What the Prefect UI shows of a run: markdown, table, progress and link artifacts.

Each function is a no-op outside a flow or task run, so the steps' logic stays
usable without Prefect.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pandas as pd

if TYPE_CHECKING:
    from tasks.promote import Decision
    from tasks.validate import Failure

logger = logging.getLogger(__name__)


def _in_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def key(pipeline: str, what: str) -> str:
    """An artifact key: Prefect allows lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{pipeline}-{what}".lower())


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def validation_summary(
    pipeline: str, where: str, checked: int, failures: list[Failure]
) -> None:
    """A markdown table of every failed expectation (errors and warnings)."""
    if not _in_run():
        return
    from prefect.artifacts import create_markdown_artifact

    errors = sum(failure.severity == "error" for failure in failures)
    lines = [
        f"# Validation of {where}",
        "",
        f"{checked} expectations: {errors} failed, "
        f"{len(failures) - errors} warning(s).",
    ]
    if failures:
        lines += [
            "",
            "| severity | column | expectation | expected | observed | examples |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {f.severity} | {_cell(f.column or '(table)')} | {f.expectation} | "
            f"{_cell(f.expected)} | {_cell(f.observed)} | {_cell(f.examples)} |"
            for f in failures
        ]
    create_markdown_artifact(
        "\n".join(lines),
        key=key(pipeline, "validation"),
        description=f"Great Expectations summary for {where}",
    )


def start_progress(pipeline: str, epochs: int) -> UUID | None:
    """A progress artifact for training, at 0 %."""
    if not _in_run():
        return None
    from prefect.artifacts import create_progress_artifact

    return create_progress_artifact(
        0.0,
        key=key(pipeline, "training-progress"),
        description=f"Epochs done of at most {epochs}",
    )


def update_progress(artifact_id: UUID | None, percent: float) -> None:
    """Moves a progress artifact."""
    if artifact_id is None:
        return
    from prefect.artifacts import update_progress_artifact

    update_progress_artifact(artifact_id, progress=min(100.0, percent))


def training_curves(pipeline: str, history: pd.DataFrame) -> None:
    """A table of every epoch's figures: the final learning curves."""
    if not _in_run() or history.empty:
        return
    from prefect.artifacts import create_table_artifact

    rows = history.round(6).to_dict(orient="records")
    create_table_artifact(
        rows, key=key(pipeline, "training-curves"), description="Figures per epoch"
    )


def evaluation_table(pipeline: str, decision: Decision) -> None:
    """Challenger beside champion on the same held-out rows."""
    if not _in_run():
        return
    from prefect.artifacts import create_table_artifact

    rows = [
        {
            "metric": metric,
            "key": metric == decision.metric,
            f"challenger {decision.version}": _round(pair["challenger"]),
            f"champion {decision.champion_version or '(none)'}": _round(
                pair["champion"]
            ),
        }
        for metric, pair in decision.scores.items()
    ]
    create_table_artifact(
        rows,
        key=key(pipeline, "evaluation"),
        description="Challenger and champion on the same held-out rows",
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def decision_summary(pipeline: str, decision: Decision) -> None:
    """The promotion decision and every check behind it."""
    if not _in_run():
        return
    from prefect.artifacts import create_markdown_artifact

    verdict = "promoted to champion" if decision.promote else "registered, not promoted"
    lines = [
        f"# Version {decision.version}: {verdict}",
        "",
        "| check | passed | detail |",
        "|---|---|---|",
        *(
            f"| {c.name} | {'yes' if c.passed else 'no'} | {_cell(c.detail)} |"
            for c in decision.checks
        ),
    ]
    create_markdown_artifact(
        "\n".join(lines),
        key=key(pipeline, "promotion"),
        description="The promotion gate's decision",
    )


def link(pipeline: str, what: str, path: Path, text: str) -> None:
    """A link artifact to a local file or folder."""
    if not _in_run():
        return
    from prefect.artifacts import create_link_artifact

    create_link_artifact(
        Path(path).resolve().as_uri(),
        link_text=text,
        key=key(pipeline, what),
        description=text,
    )
