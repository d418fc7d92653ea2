"""Imports every capability's tables, so that the metadata is complete (for Alembic)."""

from __future__ import annotations

import importlib

CAPABILITY_MODELS = (
    "prereview.identity.models",
    "prereview.audit.models",
    "prereview.review.models",
    "prereview.vault.models",
)


def load_all() -> None:
    for module in CAPABILITY_MODELS:
        importlib.import_module(module)
