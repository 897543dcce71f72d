"""The pipeline's steps, one module each: logic functions plus their Prefect task."""
