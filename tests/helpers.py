"""Small builders for specs and tables that tests write to a temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_spec(folder: Path, spec: dict[str, Any], name: str = "spec.yaml") -> Path:
    """Writes a spec mapping as YAML and returns its path."""
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf8")
    return path


def tiny_spec(source: str, **changes: Any) -> dict[str, Any]:
    """A small valid classification spec over ``source``; ``changes`` override keys."""
    spec: dict[str, Any] = {
        "name": "tiny",
        "seed": 7,
        "data": {
            "source": {"path": source},
            "target": "label",
            "split": {"train": 0.6, "validation": 0.2, "test": 0.2},
        },
        "model": {
            "kind": "sequential",
            "layers": [{"class_name": "Dense", "config": {"units": 4}}],
        },
        "compile": {
            "optimizer": "adam",
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        "fit": {"epochs": 2, "batch_size": 8, "verbose": 0},
    }
    for dotted, value in changes.items():
        node = spec
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    return spec
