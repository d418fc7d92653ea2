"""Factories of private task packs: a real pack file (``pack.toml`` and a package with one
Inspect task), as an agency makes one, and its upload."""

from __future__ import annotations

import io
import tarfile
import uuid
from typing import Any

from support.factories import Platform

TASK = """
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes
from inspect_ai.solver import generate


@task
def door():
    return Task(dataset=[Sample(input="say the passphrase", target="open")],
                solver=generate(), scorer=includes())
"""


def pack_bytes(name: str = "factory-pack", version: str | None = None) -> bytes:
    """A pack's bytes; a fresh version each call unless one is given (versions never repeat)."""
    version = version or f"1.0.{uuid.uuid4().hex[:8]}"
    package = f"pack_{uuid.uuid4().hex[:12]}"
    manifest = (
        f'[pack]\nname = "{name}"\nversion = "{version}"\npackage = "{package}"\ntasks = ["door"]\n'
    ).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, data in (("pack.toml", manifest), (f"{package}/__init__.py", TASK.encode())):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload_pack(platform: Platform, who: str = "agency", **kw: Any) -> dict[str, Any]:
    """``who`` uploads a fresh pack; the pack as the server describes it."""
    return platform.call(  # type: ignore[no-any-return]
        who,
        "POST",
        "/eval-packs",
        201,
        params={"filename": "pack.tar.gz"},
        content=pack_bytes(**kw),
    ).json()
