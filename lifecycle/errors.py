"""The exception hierarchy every step raises, so callers can catch one root class."""

from __future__ import annotations


class LifecycleError(Exception):
    """Root of every error this project raises on purpose.

    The message is meant for the person running the pipeline: it names the file,
    key or column, what was expected, what was found, and what to do.
    """


class SpecError(LifecycleError):
    """The pipeline spec is malformed or asks for something that does not exist."""


class DataError(LifecycleError):
    """A data source cannot be read, or its contents do not fit the spec."""


class ValidationFailed(DataError):
    """Great Expectations found rows that break the data contract.

    Attributes:
        failures: One human-readable line per failed expectation.
        report_path: Where the full Great Expectations result was saved, if anywhere.
    """

    def __init__(
        self, message: str, failures: list[str], report_path: str | None = None
    ) -> None:
        super().__init__(message)
        self.failures = failures
        self.report_path = report_path


class ModelError(LifecycleError):
    """A model cannot be built, loaded or used as the spec or the data require."""
