"""Imports every capability's tables, so that the metadata is complete (for Alembic).

The modules are those :data:`prereview.capabilities.CAPABILITIES` names.
"""

from __future__ import annotations

import importlib

from prereview.capabilities import model_modules

CAPABILITY_MODELS = tuple(model_modules())


def load_all() -> None:
    for module in CAPABILITY_MODELS:
        importlib.import_module(module)
