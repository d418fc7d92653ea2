"""Cyber-capability evaluations on Inspect AI: tasks, the bwrap sandbox and the runner.

Importing this package is cheap; the Inspect-facing modules are imported by
``prereview.evals._registry`` (the ``inspect_ai`` entry point) or directly.
"""
