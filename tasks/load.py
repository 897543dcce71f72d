"""Load step: read a Parquet or CSV file, a glob or a folder into one table."""

from __future__ import annotations

import glob as globbing
import logging
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_ds
from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle.errors import DataError
from lifecycle.layout import write_parquet
from lifecycle.retries import IO_RETRIES
from lifecycle.spec import SourceSpec

logger = logging.getLogger(__name__)

# scikit-learn ships these tables inside its wheel: no download happens. The target
# gets a name that says what it is, and class labels become their names.
_BUNDLED_TARGETS = {
    "wine": "cultivar",
    "breast_cancer": "diagnosis",
    "diabetes": "progression",
}


def read_bundled(name: str) -> pd.DataFrame:
    """Returns one of scikit-learn's bundled real tables as a frame.

    Column names are made snake_case; classification labels are their names
    (for example "malignant" / "benign"), so string labels are exercised.

    Args:
        name: "wine", "breast_cancer" or "diabetes".

    Returns:
        The table, target column last.
    """
    from sklearn import datasets

    loader = getattr(datasets, f"load_{name}")
    bunch = (
        loader(as_frame=True, scaled=False)
        if name == "diabetes"
        else loader(as_frame=True)
    )
    frame = bunch.frame.rename(columns=lambda c: re.sub(r"[^A-Za-z0-9]+", "_", c))
    target = frame.pop("target")
    if "target_names" in bunch:
        names = [str(label) for label in bunch.target_names]
        target = target.map(lambda index: names[int(index)]).astype("str")
    frame[_BUNDLED_TARGETS[name]] = target
    return frame


def _files_of(source: SourceSpec) -> list[Path]:
    """Expands a path or glob into the files it names, sorted for a stable order."""
    assert source.path is not None
    if any(char in source.path for char in "*?["):
        matches = sorted(Path(p) for p in globbing.glob(source.path, recursive=True))
        files = [path for path in matches if path.is_file()]
        if not files:
            raise DataError(
                f"source {source.path!r}: the glob matches no file; check the "
                "pattern and the working directory"
            )
        return files
    path = Path(source.path)
    if not path.exists():
        raise DataError(
            f"source {source.path!r}: no such file or folder (working directory "
            f"{Path.cwd()}); point data.source.path or --source at the data"
        )
    return [path]


def _format_of(source: SourceSpec, path: Path) -> str:
    if source.format != "auto":
        return source.format
    if path.is_dir() or path.suffix.lower() in {".parquet", ".pq"}:
        return "parquet"
    if path.suffix.lower() in {".csv", ".txt", ".tsv", ".data", ".test"}:
        return "csv"
    raise DataError(
        f"source {str(path)!r}: cannot tell the format from the suffix "
        f"{path.suffix!r}; set data.source.format to 'parquet' or 'csv'"
    )


def _read_csv(path: Path, source: SourceSpec) -> pa.Table:
    options = source.csv
    try:
        return pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(encoding=options.encoding),
            parse_options=pa_csv.ParseOptions(
                delimiter=options.separator, quote_char=options.quote_char
            ),
            convert_options=pa_csv.ConvertOptions(
                null_values=["", *options.na_values], strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc) or path.stat().st_size == 0:
            raise DataError(
                f"source {str(path)!r} is empty: expected a header row and at least "
                "one data row; check that the file was fully written"
            ) from exc
        raise DataError(f"source {str(path)!r}: cannot parse it as CSV: {exc}") from exc


def _read_parquet(files: list[Path]) -> pa.Table:
    # A folder is read as one dataset; hive-style key=value folders become columns.
    target = (
        files[0] if len(files) == 1 and files[0].is_dir() else [str(f) for f in files]
    )
    try:
        dataset = pa_ds.dataset(target, format="parquet", partitioning="hive")
        return dataset.to_table()
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            f"source {[str(f) for f in files]}: cannot read it as Parquet: {exc}"
        ) from exc


def _plain_types(table: pa.Table) -> pa.Table:
    """Turns dictionary-encoded columns (partition keys) into plain ones."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            plain = table.column(index).cast(field.type.value_type)
            table = table.set_column(index, field.name, plain)
    return table


def load_table(source: SourceSpec) -> pd.DataFrame:
    """Reads a source into one frame, whatever its shape on disk.

    Args:
        source: The source spec.

    Returns:
        The rows, in file order (files of a glob sorted by name).

    Raises:
        DataError: The source is missing, empty, unreadable or has no rows.
    """
    if source.bundled is not None:
        frame = read_bundled(source.bundled)
    else:
        files = _files_of(source)
        formats = {_format_of(source, path) for path in files}
        if formats == {"csv"}:
            table = pa.concat_tables(
                [_read_csv(path, source) for path in files], promote_options="default"
            )
        elif formats == {"parquet"}:
            table = _read_parquet(files)
        else:
            raise DataError(
                f"source {source.path!r} mixes CSV and Parquet files; "
                "point it at one format"
            )
        frame = _plain_types(table).to_pandas()
    if frame.empty:
        raise DataError(
            f"source {source.describe()!r} has no data rows (columns: "
            f"{list(frame.columns)}); expected at least one row"
        )
    logger.debug("read %s: %d rows x %d columns", source.describe(), *frame.shape)
    return frame


@task(
    name="load",
    cache_policy=NO_CACHE,
    **IO_RETRIES,
)
def load_data(source: SourceSpec, out_path: Path) -> Path:
    """Reads a source and writes it as one Parquet file for the next steps.

    Args:
        source: The source spec.
        out_path: Where the table is written.

    Returns:
        ``out_path``.

    Raises:
        DataError: The source is missing, empty or unreadable (not retried).
    """
    from prefect.logging import get_run_logger

    frame = load_table(source)
    write_parquet(out_path, frame)
    get_run_logger().info(
        "Loaded %d rows x %d columns from %s", *frame.shape, source.describe()
    )
    return out_path
