"""Which cases are C cases (:data:`NATIVE`), and their modules as the build script takes them."""

from __future__ import annotations

from typing import Any

from prereview.evals.realworld.cases import c_bsdiff4, c_ujson
from prereview.evals.realworld.cspec import NativeBuild

NATIVE: dict[str, NativeBuild] = {c.CASE.id: c.NATIVE for c in (c_bsdiff4, c_ujson)}


def module_specs(build: NativeBuild) -> list[dict[str, Any]]:
    """The extension modules of ``build`` as plain data, the first argument of the build
    script (:data:`.scripts.BUILD_SCRIPT`)."""
    return [
        {
            "name": m.name,
            "sources": list(m.sources),
            "include_dirs": list(m.include_dirs),
            "extra_args": list(m.extra_args),
        }
        for m in build.modules
    ]
