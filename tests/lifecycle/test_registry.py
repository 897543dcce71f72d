"""The registry: only registered versions can be promoted, and moves are recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.errors import LifecycleError
from lifecycle.layout import PipelineLayout
from lifecycle.registry import ModelRegistry

VERSIONS = ["20261201T020000000000Z-aaaaaa", "20261202T020000000000Z-bbbbbb"]


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    layout = PipelineLayout.of(tmp_path, "wine")
    for version in VERSIONS:
        (layout.model_dir(version)).mkdir(parents=True)
    (layout.runs / VERSIONS[0]).mkdir(parents=True)
    return ModelRegistry(layout)


class TestPromote:
    def test_moves_are_recorded_in_order(self, registry: ModelRegistry) -> None:
        registry.promote(VERSIONS[0], by="gate", reason="first")
        registry.promote(VERSIONS[1], by="gate", reason="better")
        move = registry.promote(VERSIONS[0], by="manual", reason="roll back")
        assert registry.champion() == VERSIONS[0]
        assert move.previous == VERSIONS[1]
        assert [m.by for m in registry.history()] == ["gate", "gate", "manual"]

    @pytest.mark.parametrize("bad", ["", ".", "..", f"../runs/{VERSIONS[0]}", "nope"])
    def test_only_a_registered_version(self, registry: ModelRegistry, bad: str) -> None:
        with pytest.raises(LifecycleError, match=r"is not under .*; published: "):
            registry.promote(bad, by="manual", reason="x")
        assert registry.champion() is None
        assert registry.history() == []

    def test_no_champion_says_what_to_do(self, registry: ModelRegistry) -> None:
        with pytest.raises(
            LifecycleError, match=r"promote one with: lifecycle models promote SPEC"
        ):
            registry.require_champion()
