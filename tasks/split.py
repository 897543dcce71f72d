"""Split step: train / validation / test, seeded, stratified or grouped."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from lifecycle.layout import write_parquet
from lifecycle.spec import PipelineSpec

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


def _cut(
    index: np.ndarray,
    share: float,
    seed: int,
    labels: pd.Series | None,
    groups: pd.Series | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cuts ``index`` in two, the second part holding about ``share`` of it."""
    if share <= 0:
        return index, index[:0]
    if groups is not None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=share, random_state=seed)
        keep, held = next(splitter.split(index, groups=groups.loc[index]))
        return index[keep], index[held]
    stratify = labels.loc[index] if labels is not None else None
    keep, held = train_test_split(
        index, test_size=share, random_state=seed, stratify=stratify
    )
    return keep, held


def split_frame(
    frame: pd.DataFrame, spec: PipelineSpec, has_test_table: bool = False
) -> dict[str, pd.DataFrame]:
    """Splits rows as the spec says; each part keeps the original row order.

    Args:
        frame: The validated table.
        spec: The pipeline spec.
        has_test_table: The test rows come from a separate table, so ``frame`` is
            split into train and validation only. Defaults to False.

    Returns:
        "train", "validation" and (unless ``has_test_table``) "test" frames.
    """
    split = spec.data.split
    seed = spec.split_seed
    groups = frame[split.group_column] if split.group_column else None
    labels = None
    if split.stratify and spec.compile.task != "regression":
        if groups is not None:
            logger.warning(
                "data.split.group_column=%r wins over data.split.stratify: rows are "
                "kept together by group, class shares are not matched",
                split.group_column,
            )
        else:
            labels = frame[spec.data.target]

    index = frame.index.to_numpy()
    rest, test = _cut(index, split.test, seed, labels, groups)
    # The validation share is of the whole table, so rescale it to what is left.
    remaining = split.train + split.validation
    train, validation = _cut(rest, split.validation / remaining, seed, labels, groups)
    parts = {"train": train, "validation": validation}
    if not has_test_table:
        parts["test"] = test
    return {name: frame.loc[np.sort(rows)] for name, rows in parts.items()}


@task(name="split", task_run_name="split-{spec.name}", cache_policy=NO_CACHE)
def split_data(
    spec: PipelineSpec,
    table_path: Path,
    out_dir: Path,
    test_table_path: Path | None = None,
) -> dict[str, Path]:
    """Writes the train, validation and test splits as Parquet files.

    Args:
        spec: The pipeline spec.
        table_path: The validated table.
        out_dir: Where ``train.parquet``, ``validation.parquet`` and
            ``test.parquet`` go.
        test_table_path: A separate test table, used as the test split as it is.
            Defaults to None.

    Returns:
        Split name to Parquet path.
    """
    from prefect.logging import get_run_logger

    frame = pd.read_parquet(table_path)
    parts = split_frame(frame, spec, has_test_table=test_table_path is not None)
    if test_table_path is not None:
        parts["test"] = pd.read_parquet(test_table_path)
    paths = {
        name: write_parquet(
            out_dir / f"{name}.parquet", parts[name].reset_index(drop=True)
        )
        for name in SPLITS
    }
    get_run_logger().info(
        "Split rows: %s",
        ", ".join(f"{name} {len(parts[name])}" for name in SPLITS),
    )
    return paths
