"""The load step: files, globs, partitioned folders, CSV options, empty inputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lifecycle.errors import DataError
from lifecycle.spec import CsvOptions, SourceSpec
from tasks.load import load_table, read_bundled

FRAME = pd.DataFrame({"a": [1.5, 2.5, 3.5], "b": ["x", "y", "z"], "label": [0, 1, 0]})


class TestLoadTable:
    def test_parquet_file(self, tmp_path: Path) -> None:
        FRAME.to_parquet(tmp_path / "t.parquet")
        frame = load_table(SourceSpec(path=str(tmp_path / "t.parquet")))
        pd.testing.assert_frame_equal(frame, FRAME, check_dtype=False)

    def test_csv_with_separator_and_missing_marker(self, tmp_path: Path) -> None:
        (tmp_path / "t.csv").write_text("a;b;label\n1.5;?;0\n2.5;y;1\n")
        source = SourceSpec(
            path=str(tmp_path / "t.csv"), csv=CsvOptions(separator=";", na_values=["?"])
        )
        frame = load_table(source)
        assert frame["a"].tolist() == [1.5, 2.5]
        assert frame["b"].isna().tolist() == [True, False]

    def test_glob_is_one_table_in_name_order(self, tmp_path: Path) -> None:
        FRAME.iloc[:1].to_parquet(tmp_path / "part-1.parquet")
        FRAME.iloc[1:].to_parquet(tmp_path / "part-2.parquet")
        frame = load_table(SourceSpec(path=str(tmp_path / "part-*.parquet")))
        assert frame["b"].tolist() == ["x", "y", "z"]

    def test_partitioned_folder_gives_partition_column(self, tmp_path: Path) -> None:
        for day in ("2026-01-01", "2026-01-02"):
            folder = tmp_path / "table" / f"day={day}"
            folder.mkdir(parents=True)
            FRAME.to_parquet(folder / "part.parquet")
        frame = load_table(SourceSpec(path=str(tmp_path / "table")))
        assert len(frame) == 6
        assert sorted(frame["day"].unique()) == ["2026-01-01", "2026-01-02"]
        assert pd.api.types.is_string_dtype(frame["day"])

    def test_empty_csv_file(self, tmp_path: Path) -> None:
        (tmp_path / "empty.csv").write_text("")
        with pytest.raises(
            DataError, match=r"empty\.csv' is empty: expected a header row"
        ):
            load_table(SourceSpec(path=str(tmp_path / "empty.csv")))

    def test_header_only_csv(self, tmp_path: Path) -> None:
        (tmp_path / "h.csv").write_text("a,b,label\n")
        with pytest.raises(DataError, match=r"has no data rows"):
            load_table(SourceSpec(path=str(tmp_path / "h.csv")))

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match=r"no such file or folder"):
            load_table(SourceSpec(path=str(tmp_path / "nope.csv")))

    def test_glob_matching_nothing(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match=r"the glob matches no file"):
            load_table(SourceSpec(path=str(tmp_path / "*.parquet")))


class TestBundled:
    def test_breast_cancer_has_string_labels(self) -> None:
        frame = read_bundled("breast_cancer")
        assert set(frame["diagnosis"]) == {"malignant", "benign"}
        assert "mean_radius" in frame.columns

    def test_wine_columns_are_keras_safe(self) -> None:
        frame = read_bundled("wine")
        assert all("/" not in column for column in frame.columns)
        assert frame["cultivar"].nunique() == 3
