"""Prefect deployments of the flows: nightly retraining and batch scoring."""
