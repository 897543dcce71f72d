"""The promotion gate: floor, champion comparison, direction of each figure."""

from __future__ import annotations

import pytest

from lifecycle.spec import parse_spec
from tasks.promote import Check, decide
from tests.helpers import tiny_spec

PASSED = Check("data passed validation", True, "ok")
LOADS = Check("loads in a fresh process", True, "ok")


def _decide(
    floor: float | None,
    tolerance: float,
    mine: float,
    theirs: float | None,
    metric: str = "accuracy",
    loss: str = "sparse_categorical_crossentropy",
):
    spec = parse_spec(
        tiny_spec(
            "x",
            **{
                "compile.loss": loss,
                "compile.metrics": [],
                "promotion": {"metric": metric, "floor": floor, "tolerance": tolerance},
            },
        )
    )
    champion = None if theirs is None else "v1"
    scores = {metric: {"challenger": mine, "champion": theirs}}
    return decide(spec, "v2", PASSED, LOADS, scores, champion)


class TestDecide:
    def test_first_model_needs_only_the_floor(self) -> None:
        decision = _decide(floor=0.8, tolerance=0.0, mine=0.85, theirs=None)
        assert decision.promote
        assert "no champion to beat" in decision.checks[-1].detail

    def test_floor_missed(self) -> None:
        decision = _decide(floor=0.9, tolerance=0.0, mine=0.85, theirs=None)
        assert not decision.promote
        assert decision.reasons == ["accuracy 0.8500 misses the floor (>= 0.9)"]

    def test_worse_than_champion_beyond_tolerance(self) -> None:
        decision = _decide(floor=None, tolerance=0.01, mine=0.85, theirs=0.9)
        assert not decision.promote
        assert "beyond the tolerance 0.01" in decision.reasons[0]

    def test_slightly_worse_within_tolerance(self) -> None:
        assert _decide(floor=None, tolerance=0.06, mine=0.85, theirs=0.9).promote

    def test_errors_are_better_lower(self) -> None:
        lower = _decide(
            floor=60.0, tolerance=0.0, mine=45.0, theirs=50.0, metric="mae", loss="mse"
        )
        higher = _decide(
            floor=60.0, tolerance=0.0, mine=55.0, theirs=50.0, metric="mae", loss="mse"
        )
        assert lower.promote and not higher.promote
        assert "(<= 60.0)" in lower.checks[2].detail

    def test_failed_probe_blocks_promotion(self) -> None:
        spec = parse_spec(tiny_spec("x"))
        broken = Check("loads in a fresh process", False, "failed to load")
        scores = {"accuracy": {"challenger": 1.0, "champion": None}}
        decision = decide(spec, "v2", PASSED, broken, scores, None)
        assert not decision.promote and decision.reasons == ["failed to load"]

    def test_gate_metric_must_fit_the_task(self) -> None:
        from lifecycle.errors import SpecError

        with pytest.raises(
            SpecError, match=r"promotion\.metric 'mae' is not a multiclass"
        ):
            parse_spec(tiny_spec("x", promotion={"metric": "mae"}))
