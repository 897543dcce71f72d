"""Settings read from the environment (prefix ``LIFECYCLE_``), never at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class LifecycleSettings(BaseSettings):
    """Where the pipeline writes, overridable per run.

    Attributes:
        data_dir: Root folder of every output (runs, models, predictions). Defaults
            to ``data`` in the working directory; set ``LIFECYCLE_DATA_DIR`` to move it.
    """

    model_config = SettingsConfigDict(env_prefix="LIFECYCLE_", extra="ignore")

    data_dir: Path = Path("data")


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Returns the output root: the explicit argument wins over the environment.

    Args:
        data_dir: An explicit folder. Defaults to None (use the settings).

    Returns:
        The absolute output root.
    """
    chosen = Path(data_dir) if data_dir is not None else LifecycleSettings().data_dir
    return chosen.expanduser().resolve()
