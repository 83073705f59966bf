"""Shared code for the companion notebooks: data, training loops, plots, environment checks.

Kept import-light on purpose: `python -m utils.check` must run before MXNet is installed.
"""
