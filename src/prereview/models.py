"""Imports every capability's tables, so that the metadata is complete (for Alembic)."""

from __future__ import annotations

import importlib

CAPABILITY_MODELS = (
    "prereview.identity.models",
    "prereview.audit.models",
    "prereview.review.models",
    "prereview.vault.models",
    "prereview.gateway.models",
    "prereview.clearinghouse.models",
    "prereview.evals.models",
    "prereview.coverage.models",
)


def load_all() -> None:
    for module in CAPABILITY_MODELS:
        importlib.import_module(module)
