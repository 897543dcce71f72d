"""Shared core of the Keras life-cycle pipeline: spec, settings, layout and errors."""
