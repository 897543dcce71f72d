"""The model registry: immutable versions of a pipeline's model and its champion alias.

A version is a published folder under ``models/`` (see ``lifecycle.layout``). The
alias ``champion`` is one small JSON file, replaced in a single rename, so a reader
sees the old champion or the new one and never a half state. Every move of the
alias, by the gate or by hand, is appended to ``models/aliases.jsonl``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from lifecycle.errors import LifecycleError
from lifecycle.layout import PipelineLayout, read_json, write_json

logger = logging.getLogger(__name__)

CHAMPION = "champion"
DECISION = "decision.json"
Mover = Literal["gate", "manual"]


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias.

    Attributes:
        alias: The alias moved ("champion").
        version: The version it points at since.
        previous: The version it pointed at before, if any.
        by: "gate" (a training run's promotion) or "manual" (a person).
        reason: Why, in words.
        at: When (UTC, ISO 8601).
    """

    alias: str
    version: str
    previous: str | None
    by: Mover
    reason: str
    at: str


class ModelRegistry:
    """Reads and moves the aliases of one pipeline's model versions.

    Args:
        layout: The pipeline's folders.
    """

    def __init__(self, layout: PipelineLayout) -> None:
        self.layout = layout

    @property
    def _alias_file(self) -> Path:
        return self.layout.models / f"{CHAMPION}.json"

    @property
    def _history_file(self) -> Path:
        return self.layout.models / "aliases.jsonl"

    def versions(self) -> list[str]:
        """Returns the registered versions, oldest first."""
        return self.layout.versions()

    def champion(self) -> str | None:
        """Returns the champion version, or None before the first promotion."""
        if not self._alias_file.exists():
            return None
        return str(read_json(self._alias_file)["version"])

    def require_champion(self) -> str:
        """Returns the champion version.

        Raises:
            LifecycleError: No version has been promoted yet.
        """
        champion = self.champion()
        if champion is None:
            versions = self.versions()
            hint = (
                f"promote one with: lifecycle models promote SPEC {versions[-1]}"
                if versions
                else "train the pipeline first (lifecycle train SPEC)"
            )
            raise LifecycleError(
                f"pipeline {self.layout.root.name!r} has no champion model under "
                f"{self.layout.models}; {hint}"
            )
        return champion

    def decision(self, version: str) -> dict[str, Any] | None:
        """Returns the gate's decision stored with a version, if any."""
        path = self.layout.model_dir(version) / DECISION
        return read_json(path) if path.exists() else None

    def history(self) -> list[AliasMove]:
        """Returns every alias move, oldest first."""
        if not self._history_file.exists():
            return []
        lines = self._history_file.read_text(encoding="utf8").splitlines()
        return [AliasMove(**json.loads(line)) for line in lines if line.strip()]

    def promote(self, version: str, by: Mover, reason: str) -> AliasMove:
        """Points ``champion`` at a registered version, atomically, and records it.

        Args:
            version: The version to serve.
            by: Who moved it: "gate" or "manual".
            reason: Why, in words.

        Returns:
            The recorded move.

        Raises:
            LifecycleError: The version is not registered.
        """
        self.layout.published_model_dir(version)
        move = AliasMove(
            alias=CHAMPION,
            version=version,
            previous=self.champion(),
            by=by,
            reason=reason,
            at=datetime.now(UTC).isoformat(),
        )
        # The history line goes first: a crash between the two leaves a record of an
        # intended move, never an unrecorded one.
        with self._history_file.open("a", encoding="utf8") as history:
            history.write(json.dumps(move.__dict__) + "\n")
        write_json(self._alias_file, {"version": version, "by": by, "at": move.at})
        logger.info("champion of %s is now %s (%s)", self.layout.root.name, version, by)
        return move
