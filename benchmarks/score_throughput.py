"""Scoring throughput: the predict step against ``model.predict`` in one process.

Builds the music-genre model shape (12 numeric columns, 150-100-50-20-10, 6 classes)
on generated rows, exports it, then times, on the same rows:

- baseline: ``model.predict`` on the in-memory Keras model, default batch size;
- ``model.predict`` with the predict step's batch size, to separate that effect;
- ``predict_table``: the SavedModel's ``serve`` over 65,536-row chunks, including
  building the prediction frame and writing Parquet.

Prints rows per second and the ratio to the baseline. Run: ``make bench``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lifecycle.features import to_model_inputs  # noqa: E402
from lifecycle.schema import derive_schema  # noqa: E402
from lifecycle.spec import load_spec  # noqa: E402
from tasks.compile import compile_keras_model  # noqa: E402
from tasks.define import build_model  # noqa: E402
from tasks.export import write_model_folder  # noqa: E402
from tasks.predict import BATCH_ROWS, ExportedModel, predict_table  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000


def _rows(count: int, columns: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(count, len(columns))), columns=columns)
    frame["track_id"] = np.arange(count).astype(str)
    frame["playlist_genre"] = rng.choice(list("abcdef"), size=count)
    return frame


def main() -> None:
    spec = load_spec("music_genre")
    frame = _rows(ROWS, list(spec.data.features.numeric or []))
    schema = derive_schema(frame, spec.data, spec.compile.task)
    model = compile_keras_model(build_model(spec, schema, frame), spec, schema)

    with tempfile.TemporaryDirectory() as folder:
        model_dir = Path(folder) / "v1"
        model_dir.mkdir()
        write_model_folder(model, spec, schema, {}, model_dir)
        exported = ExportedModel.load(model_dir)
        inputs = to_model_inputs(frame, schema)
        model.predict({k: v[:1000] for k, v in inputs.items()}, verbose=0)
        predict_table(exported, frame.head(1000), Path(folder) / "warm.parquet")

        start = time.perf_counter()
        model.predict(inputs, verbose=0)
        baseline = ROWS / (time.perf_counter() - start)

        # The same batch size as the predict step, to separate the batch size
        # from the SavedModel and the Parquet writing.
        start = time.perf_counter()
        model.predict(inputs, batch_size=BATCH_ROWS, verbose=0)
        large_batch = ROWS / (time.perf_counter() - start)

        start = time.perf_counter()
        predict_table(exported, frame, Path(folder) / "predictions.parquet")
        ours = ROWS / (time.perf_counter() - start)

    ratio = ours / baseline
    print(f"rows: {ROWS:,}")
    print(f"baseline model.predict (batch 32):    {baseline:>12,.0f} rows/s  1.00x")
    print(
        f"model.predict (batch {BATCH_ROWS:,}):     {large_batch:>12,.0f} rows/s  "
        f"{large_batch / baseline:.2f}x"
    )
    print(f"predict_table (SavedModel, Parquet):  {ours:>12,.0f} rows/s  {ratio:.2f}x")


if __name__ == "__main__":
    main()
