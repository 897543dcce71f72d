"""The split step: fractions, seeds, stratification, groups, row order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifecycle.spec import parse_spec
from tasks.split import split_frame
from tests.helpers import tiny_spec


def _frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "group": np.repeat(np.arange(rows // 4), 4),
            "label": np.where(np.arange(rows) % 4 == 0, "rare", "common"),
        }
    )


class TestSplitFrame:
    def test_fractions_and_no_overlap(self) -> None:
        parts = split_frame(_frame(), parse_spec(tiny_spec("x")))
        sizes = {name: len(part) for name, part in parts.items()}
        assert sizes == {"train": 120, "validation": 40, "test": 40}
        indices = [set(part.index) for part in parts.values()]
        assert not (indices[0] & indices[1]) and not (indices[0] & indices[2])

    def test_stratified_keeps_class_shares(self) -> None:
        parts = split_frame(_frame(), parse_spec(tiny_spec("x")))
        for part in parts.values():
            assert (part["label"] == "rare").mean() == 0.25

    def test_rows_keep_their_order(self) -> None:
        for part in split_frame(_frame(), parse_spec(tiny_spec("x"))).values():
            assert part.index.is_monotonic_increasing

    def test_group_never_on_both_sides(self) -> None:
        spec = parse_spec(tiny_spec("x", **{"data.split.group_column": "group"}))
        parts = split_frame(_frame(), spec)
        groups = [set(part["group"]) for part in parts.values()]
        assert not (groups[0] & groups[1]) and not (groups[0] & groups[2])
        assert not (groups[1] & groups[2])

    def test_same_seed_same_split(self) -> None:
        spec = parse_spec(tiny_spec("x"))
        first, second = split_frame(_frame(), spec), split_frame(_frame(), spec)
        for name in first:
            assert first[name].index.equals(second[name].index)
