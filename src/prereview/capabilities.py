"""The platform's capabilities, in one list that the app, the command line and Alembic read.

Adding a capability is one line in :data:`CAPABILITIES`: :mod:`prereview.api` includes its
routers, :mod:`prereview.cli` registers its commands and :mod:`prereview.models` imports its
tables (so that Alembic's metadata is complete), each in this order. Modules are named relative
to the capability's package (``"routes:router"`` is ``prereview.<name>.routes.router``) and are
imported only when a composition root asks, so that this module depends on nothing and the
capabilities need not know one another.

The order is the order of the API's routes (and so of the OpenAPI document's sections) and of
the command line's groups in ``prereview --help``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

ROOT = "prereview"


@dataclass(frozen=True, slots=True)
class Capability:
    """One capability package and the parts of it that the composition roots assemble."""

    name: str
    routers: tuple[str, ...] = ("routes:router",)
    """``module:attribute`` of each router mounted under the REST API's prefix."""
    root_routers: tuple[str, ...] = ()
    """Routers mounted at the app's root, outside the REST API (TAXII's ``/taxii2/``)."""
    commands: tuple[str, ...] = ("commands",)
    """Modules whose ``register(app)`` adds this capability's commands to ``prereview``."""
    models: tuple[str, ...] = ("models",)
    """Modules that declare this capability's tables."""

    def module(self, relative: str) -> str:
        return f"{ROOT}.{self.name}.{relative}"


CAPABILITIES: tuple[Capability, ...] = (
    Capability("identity"),
    Capability("audit", root_routers=("tiles_routes:router",)),  # C2SP tlog-tiles at /audit/log/
    Capability("review", commands=("commands", "materials.commands")),
    Capability("vault", routers=()),
    Capability(
        "clearinghouse",
        routers=(
            "routes:router",
            "exports:router",
            "reproduction.routes:router",
            "federation_routes:router",
        ),
        root_routers=("taxii:router",),
        commands=("commands", "reproduction_commands"),
    ),
    Capability(
        "evals",
        routers=("routes:router", "packs.routes:router"),
        models=("models", "packs.models"),
    ),
    Capability("coverage"),
    Capability("gateway"),
    Capability("attestation", models=()),
    Capability("transparency", models=()),
    Capability("witness", routers=(), models=()),  # a separate program: its own CLI only
)


def _attribute(capability: Capability, spec: str) -> object:
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(capability.module(module)), attribute)


def api_routers() -> Iterator[APIRouter]:
    """Every capability's routers under the REST API's prefix, in order."""
    for capability in CAPABILITIES:
        for spec in capability.routers:
            yield cast("APIRouter", _attribute(capability, spec))


def root_routers() -> Iterator[APIRouter]:
    """The routers that live outside the REST API's prefix, in order."""
    for capability in CAPABILITIES:
        for spec in capability.root_routers:
            yield cast("APIRouter", _attribute(capability, spec))


def command_registrars() -> Iterator[Callable[[typer.Typer], None]]:
    """Each capability's ``register`` function for the ``prereview`` command, in order."""
    for capability in CAPABILITIES:
        for module in capability.commands:
            register = _attribute(capability, f"{module}:register")
            yield cast("Callable[[typer.Typer], None]", register)


def model_modules() -> Iterator[str]:
    """The dotted names of every module that declares tables."""
    for capability in CAPABILITIES:
        for module in capability.models:
            yield capability.module(module)
