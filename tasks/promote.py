"""Gate and promote steps: judge a new version against the champion, move the alias."""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle import artifacts
from lifecycle.layout import PipelineLayout, read_json, write_json
from lifecycle.locks import promotion_lock
from lifecycle.registry import DECISION, ModelRegistry
from lifecycle.spec import GATE_METRICS, HIGHER_IS_BETTER, PipelineSpec
from tasks.predict import ExportedModel

logger = logging.getLogger(__name__)

PROMOTED_EVENT = "lifecycle.model.promoted"
REGISTERED_EVENT = "lifecycle.model.registered"
PROBE_ROWS = 256
PROBE_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Check:
    """One condition of the gate.

    Attributes:
        name: What is checked.
        passed: Whether it held.
        detail: The figures behind it, in words.
    """

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on one version, stored with it.

    Attributes:
        version: The challenger.
        promote: Whether it becomes the champion.
        metric: The key figure.
        challenger: The challenger's key figure on the held-out rows.
        champion: The champion's key figure on the same rows, if there was one.
        champion_version: The champion it was compared with, if any.
        checks: Every condition, passed or not.
        scores: Every gate figure of both models, for the evaluation table.
        decided_at: When (UTC, ISO 8601).
    """

    version: str
    promote: bool
    metric: str
    challenger: float
    champion: float | None
    champion_version: str | None
    checks: list[Check]
    scores: dict[str, dict[str, float | None]]
    decided_at: str

    @property
    def reasons(self) -> list[str]:
        """The failed checks' details, or why it passed."""
        failed = [check.detail for check in self.checks if not check.passed]
        return failed or [check.detail for check in self.checks]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Decision:
        checks = [Check(**check) for check in payload["checks"]]
        return cls(**{**payload, "checks": checks})


def gate_scores(
    model: ExportedModel, frame: pd.DataFrame, metrics: tuple[str, ...]
) -> dict[str, float]:
    """Computes gate figures of a model on labelled rows, from one pass of it.

    The challenger and the champion are scored by this one function, so their
    figures are comparable whatever Keras metrics each was compiled with.
    Classification figures treat the model's own label vocabulary as the truth's
    (labels it never saw count as wrong); binary figures take its second label as
    the positive class, and multiclass ones are macro averages.
    """
    from sklearn import metrics as sk

    from lifecycle.features import class_probabilities

    schema = model.schema
    truth = frame[schema.target]
    outputs = model.outputs(frame)
    if schema.labels is None:
        values = outputs.reshape(-1)
        error = sk.mean_squared_error(truth, values)
        regression = {
            "mae": sk.mean_absolute_error(truth, values),
            "mse": error,
            "rmse": np.sqrt(error),
            "r2": sk.r2_score(truth, values),
        }
        return {metric: float(regression[metric]) for metric in metrics}

    labels = list(schema.labels)
    probabilities = class_probabilities(outputs, schema)
    predicted = np.asarray(labels, dtype=object)[probabilities.argmax(axis=1)]
    actual = truth.to_numpy(dtype=object)
    if schema.task == "binary":
        is_positive, said_positive = actual == labels[1], predicted == labels[1]
        pair = {"y_true": is_positive, "y_pred": said_positive, "zero_division": 0}
        figures = {
            "precision": lambda: sk.precision_score(**pair),
            "recall": lambda: sk.recall_score(**pair),
            "f1": lambda: sk.f1_score(**pair),
            "auc": lambda: sk.roc_auc_score(is_positive, probabilities[:, 1]),
        }
    else:
        macro = {
            "y_true": actual,
            "y_pred": predicted,
            "labels": labels,
            "average": "macro",
            "zero_division": 0,
        }
        figures = {
            "precision": lambda: sk.precision_score(**macro),
            "recall": lambda: sk.recall_score(**macro),
            "f1": lambda: sk.f1_score(**macro),
        }
    figures["accuracy"] = lambda: (predicted == actual).mean()
    return {metric: float(figures[metric]()) for metric in metrics}


def probe_in_fresh_process(model_dir: Path, frame: pd.DataFrame) -> Check:
    """Loads the SavedModel in a new Python process and compares its answers.

    The new process sees only the files, as a scoring worker will, so a model
    that only worked thanks to the training process's state is caught here.
    """
    rows = frame.head(PROBE_ROWS)
    expected = ExportedModel.load(model_dir).outputs(rows)
    with tempfile.TemporaryDirectory() as folder:
        rows_path, out_path = Path(folder) / "rows.parquet", Path(folder) / "out.npy"
        rows.to_parquet(rows_path)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tasks.probe",
                str(model_dir),
                str(rows_path),
                str(out_path),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return Check(
                "loads in a fresh process",
                False,
                f"the SavedModel failed to load or answer: {last}",
            )
        answered = np.load(out_path)
    gap = (
        float(np.abs(answered - expected).max())
        if answered.shape == expected.shape
        else None
    )
    if gap is None or gap > PROBE_TOLERANCE:
        return Check(
            "loads in a fresh process",
            False,
            f"the SavedModel answered differently in a fresh process (shape "
            f"{answered.shape} vs {expected.shape}, max difference {gap})",
        )
    return Check(
        "loads in a fresh process",
        True,
        f"the SavedModel loaded and answered {len(rows)} rows in a fresh process "
        f"(max difference {gap:.1e})",
    )


def _better(metric: str, value: float, other: float) -> float:
    """How much better ``value`` is than ``other`` (negative when worse)."""
    return value - other if metric in HIGHER_IS_BETTER else other - value


def decide(
    spec: PipelineSpec,
    version: str,
    validation: Check,
    probe: Check,
    scores: dict[str, dict[str, float | None]],
    champion_version: str | None,
) -> Decision:
    """Applies the gate: validation, fresh-process load, floor, and the champion.

    Args:
        spec: The pipeline spec (its promotion section).
        version: The challenger version.
        validation: Whether the challenger's data passed validation.
        probe: The fresh-process check.
        scores: Figure name to {"challenger": x, "champion": y or None}.
        champion_version: The current champion, if any.

    Returns:
        The decision; ``promote`` is True only if every check passed.
    """
    metric = spec.key_metric
    gate = spec.promotion
    mine = scores[metric]["challenger"]
    theirs = scores[metric]["champion"]
    assert mine is not None
    checks = [validation, probe]
    if gate.floor is None:
        checks.append(Check("clears the floor", True, f"no floor is set for {metric}"))
    else:
        clears = _better(metric, mine, gate.floor) >= 0
        relation = ">=" if metric in HIGHER_IS_BETTER else "<="
        checks.append(
            Check(
                "clears the floor",
                clears,
                f"{metric} {mine:.4f} {'meets' if clears else 'misses'} the floor "
                f"({relation} {gate.floor})",
            )
        )
    if champion_version is None:
        checks.append(
            Check(
                "not worse than the champion",
                True,
                "first model of the pipeline: no champion to beat",
            )
        )
    elif theirs is None:
        checks.append(
            Check(
                "not worse than the champion",
                True,
                f"champion {champion_version} could not score these rows; judged on "
                "the other checks",
            )
        )
    else:
        margin = _better(metric, mine, theirs)
        holds = margin >= -gate.tolerance
        checks.append(
            Check(
                "not worse than the champion",
                holds,
                f"{metric} {mine:.4f} vs champion {champion_version} "
                f"{theirs:.4f} on the same rows: "
                f"{'within' if holds else 'beyond'} the tolerance {gate.tolerance}",
            )
        )
    return Decision(
        version=version,
        promote=all(check.passed for check in checks),
        metric=metric,
        challenger=mine,
        champion=theirs,
        champion_version=champion_version,
        checks=checks,
        scores=scores,
        decided_at=datetime.now(UTC).isoformat(),
    )


def _scores(
    spec: PipelineSpec,
    challenger: ExportedModel,
    champion: ExportedModel | None,
    test: pd.DataFrame,
) -> dict[str, dict[str, float | None]]:
    metrics = GATE_METRICS[spec.compile.task]
    mine = gate_scores(challenger, test, metrics)
    theirs: dict[str, float] = {}
    if champion is not None:
        # Whatever stops the champion scoring these rows (a changed schema, a
        # label type it cannot compare) only removes its figures from the table.
        try:
            theirs = gate_scores(champion, test, metrics)
        except Exception as exc:
            logger.warning(
                "champion %s cannot score these rows: %s", champion.version, exc
            )
    return {m: {"challenger": mine[m], "champion": theirs.get(m)} for m in metrics}


@task(name="gate", task_run_name="gate-{spec.name}", cache_policy=NO_CACHE)
def judge_model(
    spec: PipelineSpec,
    staged_model: Path,
    version: str,
    splits: dict[str, Path],
    layout: PipelineLayout,
) -> Path:
    """Evaluates challenger and champion on the same held-out rows and decides.

    Writes ``decision.json`` into the challenger's (still unpublished) folder, so
    the decision is part of the immutable version.

    Args:
        spec: The pipeline spec.
        staged_model: The exported challenger, not yet registered.
        version: The challenger's version.
        splits: Split name to Parquet path (the test split is used).
        layout: The pipeline's folders.

    Returns:
        The path of ``decision.json``.
    """
    from prefect.logging import get_run_logger

    log = get_run_logger()
    test = pd.read_parquet(splits["test"])
    registry = ModelRegistry(layout)
    champion_version = registry.champion()
    champion = None
    if champion_version is not None:
        champion = ExportedModel.load(layout.model_dir(champion_version))
    challenger = ExportedModel.load(staged_model)

    # The run only gets here once validation passed; warnings are drift, not errors.
    validation = Check(
        "data passed validation", True, "the training data met its expectations"
    )
    probe = probe_in_fresh_process(staged_model, test)
    decision = decide(
        spec,
        version,
        validation,
        probe,
        _scores(spec, challenger, champion, test),
        champion_version,
    )

    path = write_json(staged_model / DECISION, decision.to_dict())
    artifacts.evaluation_table(spec.name, decision)
    artifacts.decision_summary(spec.name, decision)
    verdict = "promote" if decision.promote else "keep the champion"
    log.info("Gate for %s: %s (%s)", version, verdict, "; ".join(decision.reasons))
    return path


@task(name="promote", task_run_name="promote-{spec.name}", cache_policy=NO_CACHE)
def promote_model(
    spec: PipelineSpec, spec_ref: str, layout: PipelineLayout, version: str
) -> bool:
    """Moves ``champion`` to a registered version if its gate said so; emits an event.

    The alias moves while holding the pipeline's promotion lock, which scoring
    also takes to resolve the champion, so scoring waits while a promotion is in
    flight. The ``lifecycle.model.promoted`` event triggers batch scoring.

    Args:
        spec: The pipeline spec.
        spec_ref: The spec as the flow got it (a name or a path), for the event.
        layout: The pipeline's folders.
        version: The registered version.

    Returns:
        Whether the version was promoted.
    """
    from prefect.events import emit_event
    from prefect.logging import get_run_logger

    log = get_run_logger()
    decision = Decision.from_dict(read_json(layout.model_dir(version) / DECISION))
    resource = {
        "prefect.resource.id": f"lifecycle.model.{spec.name}",
        "prefect.resource.name": spec.name,
        "lifecycle.version": version,
        "lifecycle.spec": spec_ref,
    }
    emit_event(
        REGISTERED_EVENT, resource=resource, payload={"promote": decision.promote}
    )
    if not decision.promote:
        log.info(
            "Version %s registered, not promoted: %s",
            version,
            "; ".join(decision.reasons),
        )
        return False
    registry = ModelRegistry(layout)
    with promotion_lock(spec.name):
        # The gate compared against one champion; if another moved in since (a
        # manual promotion, a concurrent run), that verdict no longer holds.
        current = registry.champion()
        if current != decision.champion_version:
            log.warning(
                "Version %s not promoted: the champion moved from %s to %s after "
                "the gate compared them; retrain to compare with the new one",
                version,
                decision.champion_version,
                current,
            )
            return False
        move = registry.promote(version, by="gate", reason="; ".join(decision.reasons))
    emit_event(
        PROMOTED_EVENT,
        resource=resource,
        payload={
            "previous": move.previous,
            "metric": decision.metric,
            "value": decision.challenger,
        },
    )
    log.info(
        "Promoted %s to champion of %s (was %s)", version, spec.name, move.previous
    )
    return True
