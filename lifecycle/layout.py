"""Where a pipeline's outputs live under the data folder, and how they are published.

::

    <data_dir>/<pipeline>/
        runs/<version>/           one training run's record (splits, reports, history)
        models/<version>/         the exported model: saved_model/, model.keras,
                                  metadata.json
        predictions/<version>/    scoring outputs made with that model
        rejected/<version>/       validation reports of runs that failed validation

Everything is first written under a hidden ``.<name>.partial`` sibling and renamed
into place when complete, so a reader never sees half a run or half a model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lifecycle.errors import LifecycleError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineLayout:
    """The folders of one pipeline under the data root.

    Attributes:
        root: ``<data_dir>/<pipeline>``.
    """

    root: Path

    @classmethod
    def of(cls, data_dir: Path, pipeline: str) -> PipelineLayout:
        """Returns the layout of ``pipeline`` under ``data_dir``."""
        return cls(Path(data_dir) / pipeline)

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def predictions(self) -> Path:
        return self.root / "predictions"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"

    def model_dir(self, version: str) -> Path:
        """Returns the published folder of a model version."""
        return self.models / version

    def published_model_dir(self, version: str) -> Path:
        """Returns the folder of a published version.

        Raises:
            LifecycleError: No such version is published.
        """
        known = self.versions()
        # Only a listed version counts: "", "." or "../runs/x" name no version.
        if version not in known:
            raise LifecycleError(
                f"model version {version!r} is not under {self.models}; "
                f"published: {', '.join(known[-5:]) or 'none'}"
            )
        return self.model_dir(version)

    def versions(self) -> list[str]:
        """Returns the published model versions, oldest first."""
        if not self.models.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.models.iterdir()
            if entry.is_dir() and not entry.name.startswith(".")
        )


def new_version() -> str:
    """Returns a version id that sorts by creation time (UTC, microseconds)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def staging_dir(final: Path) -> Path:
    """Returns (and creates, empty) the hidden sibling that ``final`` is built in."""
    staging = final.with_name(f".{final.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def publish_dir(staging: Path, final: Path) -> Path:
    """Renames a complete staging folder into place in one step.

    Raises:
        LifecycleError: ``final`` already exists (versions are immutable).
    """
    if final.exists():
        raise LifecycleError(f"{final} already exists; versions are never overwritten")
    os.replace(staging, final)
    logger.debug("published %s", final)
    return final


def discard_dir(staging: Path, prune_up_to: Path | None = None) -> None:
    """Removes a staging folder, then the parents it leaves empty.

    Args:
        staging: The folder to remove, if it exists.
        prune_up_to: The highest folder that may be removed when left empty.
            Defaults to None (remove no parent).
    """
    if staging.exists():
        shutil.rmtree(staging, ignore_errors=True)
        logger.debug("discarded %s", staging)
    if prune_up_to is None:
        return
    parent = staging.parent
    while (
        parent != prune_up_to.parent and parent.is_dir() and not any(parent.iterdir())
    ):
        parent.rmdir()
        parent = parent.parent


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def write_json(path: Path, payload: Any) -> Path:
    """Writes JSON under a temporary name, then renames it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path)
    tmp.write_text(json.dumps(payload, indent=2, default=str), encoding="utf8")
    os.replace(tmp, path)
    logger.debug("wrote %s", path)
    return path


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    """Writes a frame as Parquet under a temporary name, then renames it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path)
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    logger.debug("wrote %s (%d rows)", path, len(frame))
    return path


def read_json(path: Path) -> Any:
    """Reads a JSON file written by this project."""
    return json.loads(Path(path).read_text(encoding="utf8"))
