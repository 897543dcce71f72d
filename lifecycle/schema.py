"""The data schema a model is trained on: column roles, kinds, ranges and labels.

It is derived once from the spec and the training table, saved beside the run and
inside the exported model, and read back by every later step, so training,
validation and scoring agree on what a row looks like.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from lifecycle.errors import DataError
from lifecycle.layout import read_json, write_json
from lifecycle.spec import DataSpec, Task, did_you_mean

Kind = Literal["numeric", "categorical"]

# Names both Keras (no "/") and SavedModel signatures accept: inputs are columns.
_SIGNATURE_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.-]*$")

# Beyond this many distinct values a category set is not worth checking row by row.
MAX_CHECKED_CATEGORIES = 1000


@dataclass(frozen=True)
class ColumnProfile:
    """What the training table showed about one column.

    Attributes:
        name: Column name.
        kind: "numeric" (normalised) or "categorical" (looked up as a string).
        dtype: The pandas dtype it was read with.
        nullable: Whether training had missing values in it.
        minimum: Smallest value (numeric only).
        maximum: Largest value (numeric only).
        mean: Mean value, used to fill missing numbers (numeric only).
        categories: Distinct values as strings (categorical only).
    """

    name: str
    kind: Kind
    dtype: str
    nullable: bool
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    categories: list[str] | None = None


@dataclass(frozen=True)
class DataSchema:
    """Column roles and profiles of a training table.

    Attributes:
        target: The label column.
        task: "binary", "multiclass" or "regression".
        features: Feature columns in model input order.
        id_columns: Columns passed through to predictions.
        labels: The label vocabulary (classification only), sorted.
        rows: Rows in the profiled table.
        fingerprint: A hash of the profiled table's contents.
    """

    target: str
    task: Task
    features: list[ColumnProfile]
    id_columns: list[str] = field(default_factory=list)
    labels: list[Any] | None = None
    rows: int = 0
    fingerprint: str = ""

    @property
    def feature_names(self) -> list[str]:
        return [column.name for column in self.features]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> DataSchema:
        features = [ColumnProfile(**column) for column in payload["features"]]
        return cls(**{**payload, "features": features})

    def save(self, path: Path) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> DataSchema:
        return cls.from_dict(read_json(path))


def select_features(frame: pd.DataFrame, data: DataSpec) -> dict[str, Kind]:
    """Decides which columns are features and of which kind.

    Args:
        frame: The training table.
        data: The spec's data section.

    Returns:
        Feature name to kind, in model input order.

    Raises:
        DataError: Columns the spec names are absent, or no feature is left; every
            problem is listed at once.
    """
    available = list(frame.columns)
    spec_features = data.features
    named = {"data.target": [data.target], "data.id_columns": data.id_columns}
    if data.split.group_column is not None:
        named["data.split.group_column"] = [data.split.group_column]
    if spec_features.listed:
        named["data.features.numeric"] = spec_features.numeric or []
        named["data.features.categorical"] = spec_features.categorical or []
    named["data.features.exclude"] = spec_features.exclude
    problems = [
        f"{key} names column {column!r}, which the table does not have"
        f"{did_you_mean(column, available)}"
        for key, columns in named.items()
        for column in columns
        if column not in frame.columns
    ]
    if problems:
        _raise_all(problems, available)

    if spec_features.listed:
        kinds: dict[str, Kind] = {c: "numeric" for c in spec_features.numeric or []}
        kinds.update({c: "categorical" for c in spec_features.categorical or []})
    else:
        reserved = {data.target, *data.id_columns, *spec_features.exclude}
        if data.split.group_column is not None:
            reserved.add(data.split.group_column)
        kinds = {
            column: (
                "numeric"
                if pd.api.types.is_numeric_dtype(frame[column])
                and not pd.api.types.is_bool_dtype(frame[column])
                else "categorical"
            )
            for column in available
            if column not in reserved
        }
    mistyped = [
        f"data.features.numeric lists {column!r}, but the table has it as "
        f"{frame[column].dtype} ({not_numbers(frame[column])}); "
        "list it under data.features.categorical or fix the data"
        for column, kind in kinds.items()
        if kind == "numeric" and not pd.api.types.is_numeric_dtype(frame[column])
    ]
    if mistyped:
        _raise_all(mistyped, available, what="columns have the wrong type")
    if not kinds:
        raise DataError(
            "no feature column is left once the target, id and excluded columns "
            f"are set aside; the table has {available}"
        )
    clash = [column for column in kinds if column == data.target]
    if clash:
        raise DataError(
            f"target {data.target!r} is also listed as a feature; remove it from "
            "data.features"
        )
    bad_names = [column for column in kinds if not _SIGNATURE_NAME.match(column)]
    if bad_names:
        raise DataError(
            f"columns {bad_names} cannot name SavedModel inputs (letters, digits, "
            "'_', '.', '-' only, not starting with '_' or '-'); rename them in the "
            "data"
        )
    return kinds


def not_numbers(column: pd.Series, count: int = 3) -> str:
    """Describes the first values of a column that do not read as numbers."""
    present = column.dropna()
    bad = present[pd.to_numeric(present, errors="coerce").isna()]
    shown = ", ".join(f"row {i}: {value!r}" for i, value in bad.head(count).items())
    return f"{len(bad)} non-numeric value(s), e.g. {shown}" if len(bad) else "no values"


def _separator_hint(available: list[str]) -> str:
    """A hint when a CSV was split on the wrong separator: one column with several."""
    if len(available) != 1:
        return ""
    for separator in (";", "\t", "|"):
        if separator in available[0]:
            return (
                f"; the header looks {separator!r}-separated: set "
                f"data.source.csv.separator to {separator!r}"
            )
    return ""


def _raise_all(
    problems: list[str], available: list[str], what: str = "columns are missing"
) -> None:
    hint = _separator_hint(available)
    if hint:
        raise DataError(f"the table has one column {available[0]!r}{hint}")
    if len(problems) == 1:
        raise DataError(f"{problems[0]}; the table has {available}")
    listed = "\n".join(f"  - {line}" for line in problems)
    raise DataError(f"{len(problems)} {what}:\n{listed}\nthe table has {available}")


def label_vocabulary(targets: list[pd.Series], task: Task, target: str) -> list[Any]:
    """Returns the sorted distinct labels of the target, checked against the task.

    Args:
        targets: The target column of every table the model will meet in training
            and evaluation.
        task: The task the loss implies.
        target: The target's name, for messages.

    Raises:
        DataError: Binary loss without exactly two classes, or fewer than two
            classes at all.
    """
    values = pd.concat(targets, ignore_index=True).dropna().unique()
    labels = sorted(_plain(value) for value in values)
    if task == "binary" and len(labels) != 2:
        shown = ", ".join(repr(label) for label in labels[:10])
        raise DataError(
            f"compile.loss is binary but target {target!r} has {len(labels)} "
            f"classes ({shown}); use sparse_categorical_crossentropy for more than "
            "two classes"
        )
    if len(labels) < 2:
        raise DataError(
            f"target {target!r} has {len(labels)} distinct value(s) {labels}: "
            "a classifier needs at least two classes"
        )
    return labels


def _plain(value: Any) -> Any:
    """Turns NumPy scalars into plain Python values, for JSON and sorting."""
    return value.item() if isinstance(value, np.generic) else value


def profile_column(series: pd.Series, kind: Kind) -> ColumnProfile:
    """Profiles one column as the model will see it."""
    nullable = bool(series.isna().any())
    if kind == "numeric":
        if not pd.api.types.is_numeric_dtype(series):
            # The validation step reports the type mismatch with examples.
            return ColumnProfile(series.name, kind, str(series.dtype), nullable)
        values = series.astype("float64")
        return ColumnProfile(
            name=str(series.name),
            kind=kind,
            dtype=str(series.dtype),
            nullable=nullable,
            minimum=_finite(values.min()),
            maximum=_finite(values.max()),
            mean=_finite(values.mean()),
        )
    categories = sorted(series.dropna().astype("str").unique().tolist())
    return ColumnProfile(
        name=str(series.name),
        kind=kind,
        dtype=str(series.dtype),
        nullable=nullable,
        categories=categories,
    )


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def fingerprint(frame: pd.DataFrame) -> str:
    """Returns a SHA-256 of a table's values, column names and order."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def derive_schema(
    frame: pd.DataFrame,
    data: DataSpec,
    task: Task,
    extra_targets: list[pd.Series] | None = None,
) -> DataSchema:
    """Derives the schema of a training table under a spec.

    Args:
        frame: The training table.
        data: The spec's data section.
        task: The task the loss implies.
        extra_targets: Target columns of further tables (a separate test table),
            whose labels join the vocabulary. Defaults to None.

    Returns:
        The schema.

    Raises:
        DataError: Named columns are missing, or the target does not fit the task.
    """
    kinds = select_features(frame, data)
    features = [profile_column(frame[name], kind) for name, kind in kinds.items()]
    labels = None
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(frame[data.target]):
            raise DataError(
                f"compile.loss is a regression loss but target {data.target!r} has "
                f"dtype {frame[data.target].dtype}; use a classification loss or a "
                "numeric target"
            )
    else:
        labels = label_vocabulary(
            [frame[data.target], *(extra_targets or [])], task, data.target
        )
    return DataSchema(
        target=data.target,
        task=task,
        features=features,
        id_columns=list(data.id_columns),
        labels=labels,
        rows=len(frame),
        fingerprint=fingerprint(frame),
    )
