"""Prefect flows that wire the steps of ``tasks`` together."""
