"""The validate step: schema derivation and the Great Expectations contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lifecycle.errors import DataError, ValidationFailed
from lifecycle.schema import derive_schema
from lifecycle.spec import parse_spec
from tasks.validate import check_rows
from tests.helpers import tiny_spec

TRAIN = pd.DataFrame(
    {
        "size": [1.0, 2.0, 3.0, 4.0],
        "colour": pd.array(["red", "blue", "red", "blue"], dtype="str"),
        "label": ["a", "b", "a", "b"],
    }
)


def _schema(frame: pd.DataFrame = TRAIN, **changes: object):
    spec = parse_spec(tiny_spec("x", **changes))
    return derive_schema(frame, spec.data, spec.compile.task)


class TestDeriveSchema:
    def test_kinds_follow_dtypes(self) -> None:
        schema = _schema()
        assert {c.name: c.kind for c in schema.features} == {
            "size": "numeric",
            "colour": "categorical",
        }
        assert schema.labels == ["a", "b"]

    def test_missing_target_names_the_key(self) -> None:
        with pytest.raises(
            DataError, match=r"data\.target names column 'labl'.*the table has \["
        ):
            _schema(**{"data.target": "labl"})

    def test_text_listed_as_numeric(self) -> None:
        with pytest.raises(
            DataError,
            match=r"numeric lists 'colour', but the table has it as str "
            r"\(4 non-numeric value\(s\), e\.g\. row 0: 'red', row 1: 'blue', "
            r"row 2: 'red'\)",
        ):
            _schema(**{"data.features": {"numeric": ["size", "colour"]}})

    def test_binary_loss_with_three_classes(self) -> None:
        frame = TRAIN.assign(label=["a", "b", "c", "a"])
        with pytest.raises(DataError, match=r"binary but target 'label' has 3 classes"):
            _schema(frame, **{"compile.loss": "binary_crossentropy"})


class TestCheckRows:
    def test_training_table_meets_its_own_contract(self) -> None:
        assert check_rows(TRAIN, _schema(), where="t", include_target=True) == []

    def test_every_failure_is_listed(self) -> None:
        rows = TRAIN.drop(columns=["colour"]).assign(size=[1.0, np.nan, 3.0, 4.0])
        with pytest.raises(ValidationFailed) as caught:
            check_rows(rows, _schema(), where="input 'new.csv'", include_target=False)
        message = str(caught.value)
        assert message.startswith("input 'new.csv': 2 of ")
        assert "column 'colour': expect_column_to_exist" in message
        assert "column 'size': expect_column_values_to_not_be_null" in message
        # A missing column is reported once, not once per check on it.
        assert message.count("'colour'") == 1

    def test_text_in_a_numeric_column_names_the_bad_rows(self) -> None:
        rows = TRAIN.assign(size=["1.5", "2", "oops", "4"])
        with pytest.raises(
            ValidationFailed,
            match=r"column 'size'.*expected a numeric dtype, observed str with "
            r"1 non-numeric value\(s\), e\.g\. row 2: 'oops'$",
        ):
            check_rows(rows, _schema(), where="t", include_target=False)

    def test_wrong_csv_separator_gets_a_hint(self) -> None:
        frame = pd.DataFrame({"size;colour;label": ["1;red;a", "2;blue;b"]})
        with pytest.raises(
            DataError,
            match=r"one column 'size;colour;label'; the header looks ';'-separated: "
            r"set data\.source\.csv\.separator to ';'",
        ):
            _schema(frame)

    def test_drift_is_a_warning_with_examples(self) -> None:
        rows = TRAIN.assign(
            size=[1.0, 2.0, 9.0, 4.0], colour=["red", "green", "red", "red"]
        )
        warnings = check_rows(rows, _schema(), where="t", include_target=False)
        lines = sorted(w.line() for w in warnings)
        assert any("'colour'" in line and "['green']" in line for line in lines)
        assert any("max <= 4.0" in line and "[9.0]" in line for line in lines)

    def test_full_result_is_saved(self, tmp_path) -> None:
        report = tmp_path / "validation.json"
        check_rows(TRAIN, _schema(), where="t", include_target=True, report_path=report)
        assert '"success": true' in report.read_text()
