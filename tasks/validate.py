"""Validate step: a Great Expectations suite built from the spec and the data, run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle import artifacts
from lifecycle.errors import DataError, ValidationFailed
from lifecycle.layout import write_json
from lifecycle.schema import (
    MAX_CHECKED_CATEGORIES,
    DataSchema,
    derive_schema,
    not_numbers,
)
from lifecycle.spec import PipelineSpec

logger = logging.getLogger(__name__)

Severity = Literal["error", "warning"]

# GX reads pandas dtype names; extension dtypes such as Int64 report their NumPy
# name ('int64'), so the NumPy names cover them too.
NUMERIC_TYPES = [
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
]

_SAMPLE = 5


@dataclass(frozen=True)
class Failure:
    """One failed expectation, as a person reads it.

    Attributes:
        column: The column checked, or None for table-level checks.
        expectation: The GX expectation type.
        expected: What the suite asked for.
        observed: What the data showed.
        examples: A few offending values.
        severity: "error" stops the run; "warning" is logged.
    """

    column: str | None
    expectation: str
    expected: str
    observed: str
    examples: list[Any]
    severity: Severity

    def line(self) -> str:
        where = f"column {self.column!r}" if self.column else "table"
        shown = f"; e.g. {self.examples}" if self.examples else ""
        return (
            f"{where}: {self.expectation}: expected {self.expected}, "
            f"observed {self.observed}{shown}"
        )


def build_expectations(schema: DataSchema, include_target: bool) -> list[Any]:
    """Builds the GX expectations that a table must meet to feed this model.

    Columns must exist; numeric features must be numeric; columns that had no
    missing values in training must have none (errors). Numeric ranges and category
    sets seen in training are checked too, as warnings: the model can still score
    such rows, but they signal drift.

    Args:
        schema: The training schema.
        include_target: Check the target column too (training and evaluation).

    Returns:
        GX expectation objects, each with ``meta.severity``.
    """
    import great_expectations as gx

    E = gx.expectations
    error: dict[str, Any] = {"meta": {"severity": "error"}}
    warning: dict[str, Any] = {"meta": {"severity": "warning"}}
    suite: list[Any] = [E.ExpectTableRowCountToBeBetween(min_value=1, **error)]
    for column in schema.id_columns:
        suite.append(E.ExpectColumnToExist(column=column, **error))
    for profile in schema.features:
        name = profile.name
        suite.append(E.ExpectColumnToExist(column=name, **error))
        if not profile.nullable:
            suite.append(E.ExpectColumnValuesToNotBeNull(column=name, **error))
        if profile.kind == "numeric":
            suite.append(
                E.ExpectColumnValuesToBeInTypeList(
                    column=name, type_list=NUMERIC_TYPES, **error
                )
            )
            # Aggregate checks: GX's row-level range check costs a Python call a value.
            if profile.minimum is not None:
                suite.append(
                    E.ExpectColumnMinToBeBetween(
                        column=name, min_value=profile.minimum, **warning
                    )
                )
            if profile.maximum is not None:
                suite.append(
                    E.ExpectColumnMaxToBeBetween(
                        column=name, max_value=profile.maximum, **warning
                    )
                )
        elif profile.categories and len(profile.categories) <= MAX_CHECKED_CATEGORIES:
            suite.append(
                E.ExpectColumnDistinctValuesToBeInSet(
                    column=name, value_set=profile.categories, **warning
                )
            )
    if include_target:
        target = schema.target
        suite.append(E.ExpectColumnToExist(column=target, **error))
        suite.append(E.ExpectColumnValuesToNotBeNull(column=target, **error))
        if schema.labels is not None:
            suite.append(
                E.ExpectColumnDistinctValuesToBeInSet(
                    column=target, value_set=list(schema.labels), **error
                )
            )
        else:
            suite.append(
                E.ExpectColumnValuesToBeInTypeList(
                    column=target, type_list=NUMERIC_TYPES, **error
                )
            )
    return suite


def _as_checked(frame: pd.DataFrame, schema: DataSchema) -> pd.DataFrame:
    """Returns the frame GX sees: categorical columns compared as strings."""
    checked = frame.copy(deep=False)
    for profile in schema.features:
        if profile.kind == "categorical" and profile.name in checked:
            column = checked[profile.name]
            checked[profile.name] = column.astype("str").where(column.notna(), None)
    return checked


def run_expectations(
    frame: pd.DataFrame, expectations: list[Any], name: str
) -> tuple[dict[str, Any], list[Failure]]:
    """Runs expectations on a frame with an ephemeral GX context.

    Args:
        frame: The rows to check.
        expectations: From ``build_expectations``.
        name: The suite's name, shown in the saved result.

    Returns:
        The full GX result as a JSON-ready dict, and the failures.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas(name="rows")
        .add_dataframe_asset(name="frame")
        .add_batch_definition_whole_dataframe(name="whole")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for expectation in expectations:
        suite.add_expectation(expectation)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format="SUMMARY")
    failures = [
        _describe(outcome, frame)
        for outcome in result.results
        if not outcome.success and not _follows_from_another(outcome, frame)
    ]
    return result.to_json_dict(), failures


def _follows_from_another(outcome: Any, frame: pd.DataFrame) -> bool:
    """Whether a failure only repeats a more basic one, so it is not listed.

    A missing column fails every check on it, and a text column fails the range
    checks of a numeric one: the existence and type failures say it once.
    """
    kind = outcome.expectation_config.type
    column = outcome.expectation_config.kwargs.get("column")
    if column is None or kind == "expect_column_to_exist":
        return False
    if column not in frame.columns:
        return True
    return kind in _RANGE_CHECKS and not pd.api.types.is_numeric_dtype(frame[column])


_RANGE_CHECKS = frozenset(
    {"expect_column_min_to_be_between", "expect_column_max_to_be_between"}
)


def _describe(outcome: Any, frame: pd.DataFrame) -> Failure:
    """Turns a failed GX result into a Failure with a few offending values."""
    config = outcome.expectation_config
    kwargs = config.kwargs
    column = kwargs.get("column")
    details = outcome.result or {}
    kind = config.type
    severity: Severity = (config.meta or {}).get("severity", "error")
    raised = (outcome.exception_info or {}).get("raised_exception")
    observed: Any = details.get("observed_value")
    examples = list(details.get("partial_unexpected_list") or [])[:_SAMPLE]
    present = column is not None and column in frame.columns
    if kind == "expect_column_to_exist":
        expected, observed = "the column to exist", "no such column"
    elif kind == "expect_table_row_count_to_be_between":
        expected = "at least 1 row"
    elif kind == "expect_column_values_to_not_be_null":
        expected = "no missing values (training had none)"
        observed = f"{details.get('unexpected_count')} missing"
        examples = []
    elif kind == "expect_column_values_to_be_in_type_list":
        expected = "a numeric dtype"
        examples = []
        if present:
            observed = f"{observed} with {not_numbers(frame[column], _SAMPLE)}"
    elif kind == "expect_column_min_to_be_between":
        expected = f"min >= {kwargs.get('min_value')}"
        if present:
            low = frame[column][frame[column] < kwargs["min_value"]]
            examples = low.head(_SAMPLE).tolist()
    elif kind == "expect_column_max_to_be_between":
        expected = f"max <= {kwargs.get('max_value')}"
        if present:
            high = frame[column][frame[column] > kwargs["max_value"]]
            examples = high.head(_SAMPLE).tolist()
    elif kind == "expect_column_distinct_values_to_be_in_set":
        allowed = kwargs.get("value_set") or []
        expected = f"values among the {len(allowed)} seen in training"
        if present:
            unseen = frame[column].dropna()
            unseen = unseen[~unseen.isin(allowed)].unique()
            examples = unseen[:_SAMPLE].tolist()
            observed = f"{len(unseen)} unseen value(s)"
    else:
        expected = str(kwargs)
    if raised:
        observed = f"GX could not evaluate it: {outcome.exception_info}"
    return Failure(
        column=column,
        expectation=kind,
        expected=expected,
        observed=str(observed),
        examples=examples,
        severity=severity,
    )


def check_rows(
    frame: pd.DataFrame,
    schema: DataSchema,
    *,
    where: str,
    include_target: bool,
    report_path: Path | None = None,
    pipeline: str | None = None,
) -> list[Failure]:
    """Checks rows against a schema and raises on any error-level failure.

    Args:
        frame: The rows.
        schema: The schema the model was trained on.
        where: The data's origin (a path), named in messages.
        include_target: Check the target column too.
        report_path: Where the full GX result is saved. Defaults to None (not
            saved).
        pipeline: The pipeline's name; given, a summary is shown in the Prefect
            UI when run inside a flow. Defaults to None.

    Returns:
        The warning-level failures, which were logged.

    Raises:
        ValidationFailed: One or more error-level expectations failed; the message
            lists every failure.
    """
    expectations = build_expectations(schema, include_target=include_target)
    result, failures = run_expectations(
        _as_checked(frame, schema), expectations, name=f"{schema.target}-contract"
    )
    if report_path is not None:
        write_json(report_path, result)
    if pipeline is not None:
        artifacts.validation_summary(pipeline, where, len(expectations), failures)
    errors = [failure for failure in failures if failure.severity == "error"]
    warnings = [failure for failure in failures if failure.severity == "warning"]
    for failure in warnings:
        logger.warning("%s: %s", where, failure.line())
    if errors:
        lines = [failure.line() for failure in errors]
        saved = f" (full result: {report_path})" if report_path is not None else ""
        if len(lines) == 1:
            message = f"{where}: 1 expectation failed{saved}: {lines[0]}"
        else:
            listed = "\n".join(f"  - {line}" for line in lines)
            message = (
                f"{where}: {len(lines)} of {len(expectations)} expectations "
                f"failed{saved}:\n{listed}"
            )
        raise ValidationFailed(
            message, lines, str(report_path) if report_path is not None else None
        )
    logger.debug("%s: %d expectations passed", where, len(expectations))
    return warnings


@task(name="validate", task_run_name="validate-{spec.name}", cache_policy=NO_CACHE)
def validate_data(
    spec: PipelineSpec,
    table_path: Path,
    out_dir: Path,
    test_table_path: Path | None = None,
    rejected_dir: Path | None = None,
) -> Path:
    """Derives the schema from the loaded table, then validates the table with GX.

    Never retried: a validation error does not go away on a second try.

    Args:
        spec: The pipeline spec.
        table_path: The loaded training table (Parquet).
        out_dir: Where ``schema.json`` and the GX results go.
        test_table_path: A separately loaded test table, checked against the same
            contract. Defaults to None.
        rejected_dir: Where the GX results go if validation fails, so that they
            outlive the failed run. Defaults to None (left in ``out_dir``).

    Returns:
        The path of ``schema.json``.

    Raises:
        DataError: Columns the spec names are missing, or the target does not fit
            the loss.
        ValidationFailed: The data breaks the contract.
    """
    from prefect.logging import get_run_logger

    log = get_run_logger()
    source = spec.data.source.describe()
    frame = pd.read_parquet(table_path)
    test_frame = pd.read_parquet(test_table_path) if test_table_path else None
    extra = [] if test_frame is None else [test_frame[spec.data.target]]
    try:
        schema = derive_schema(frame, spec.data, spec.compile.task, extra)
    except DataError as exc:
        raise DataError(f"source {source!r}: {exc}") from None

    checks = [(frame, f"source {source!r}", "validation.json")]
    if test_frame is not None and spec.data.test_source is not None:
        where = f"test source {spec.data.test_source.describe()!r}"
        checks.append((test_frame, where, "validation_test.json"))
    for rows, where, report in checks:
        try:
            check_rows(
                rows,
                schema,
                where=where,
                include_target=True,
                report_path=out_dir / report,
                pipeline=spec.name,
            )
        except ValidationFailed as exc:
            if rejected_dir is None:
                raise
            kept = rejected_dir / report
            kept.parent.mkdir(parents=True, exist_ok=True)
            (out_dir / report).replace(kept)
            raise ValidationFailed(
                str(exc).replace(str(out_dir / report), str(kept)),
                exc.failures,
                str(kept),
            ) from None
    log.info(
        "Validated %d rows: %d features, target %r (%s)",
        schema.rows,
        len(schema.features),
        schema.target,
        schema.task,
    )
    return schema.save(out_dir / "schema.json")
