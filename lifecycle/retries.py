"""Retry policy shared by the I/O steps: retry what a second try can fix, only."""

from __future__ import annotations

from typing import Any


def is_io_error(exc: BaseException | None) -> bool:
    """Tells whether an error, or the error it wraps, is an operating-system I/O error.

    Validation and spec errors are never I/O errors, so they are never retried.
    """
    while exc is not None:
        if isinstance(exc, OSError):
            return True
        exc = exc.__cause__
    return False


def retry_on_io_error(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry a failed task run on I/O errors only.

    Prefect calls this with the task, its run and the Failed state, whose ``data``
    holds the exception raised by the task.
    """
    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        error = state.result(raise_on_failure=False)
    return is_io_error(error if isinstance(error, BaseException) else None)


# Options of every Prefect task that does I/O a second try can fix:
# ``@task(name=..., **IO_RETRIES)``.
IO_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": 2,
    "retry_condition_fn": retry_on_io_error,
}
