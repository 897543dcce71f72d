"""Loads an exported model in a fresh process and saves its answers on given rows.

Run by the gate as ``python -m tasks.probe MODEL_DIR ROWS.parquet OUT.npy``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def main(model_dir: str, rows: str, out: str) -> None:
    """Writes the SavedModel's raw outputs on the rows as a NumPy file."""
    from tasks.predict import ExportedModel

    model = ExportedModel.load(Path(model_dir))
    np.save(out, model.outputs(pd.read_parquet(rows)))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main(*sys.argv[1:4])
