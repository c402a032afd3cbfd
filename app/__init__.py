"""Hindsight: a desktop flight recorder for workflow runs."""

__version__ = "0.1.0"
