"""Run a downloaded task pack on the reviewer's machine, after checking it is the pack the
server recorded.

:func:`verify` compares the file's SHA-256 with the one the server recorded at upload and
refuses a mismatch before anything is unpacked or imported; :func:`loaded_pack` unpacks the
verified pack into a private temporary folder and imports its package (a pack is code: it
runs with the reviewer's rights, as any Inspect task does, which is why only packs an agency
chose to share reach a reviewer, and only with their hash checked); :func:`run_pack` runs its
tasks with Inspect and names the pack, its version and its hash in every log.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai import Task, eval
from inspect_ai.model import GenerateConfig, Model, get_model

from prereview.evals.packs import archive
from prereview.evals.packs.archive import LOG_METADATA_KEY, Manifest
from prereview.evals.packs.errors import PackInvalid, PackTampered
from prereview.evals.runner import (
    UNISOLATED_SANDBOXES,
    SuiteResult,
    UnisolatedSandbox,
    result_from_log,
)


@dataclass(frozen=True)
class PackRef:
    """The pack as the server recorded it: what a downloaded file must match."""

    id: str
    name: str
    version: str
    sha256: str


@dataclass(frozen=True)
class LoadedPack:
    manifest: Manifest
    tasks: dict[str, Callable[..., Task]]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while piece := source.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


def verify(path: Path, expected_sha256: str) -> None:
    """Refuse a pack file whose bytes are not the ones the server recorded."""
    found = sha256_of(path)
    if found != expected_sha256:
        raise PackTampered(
            f"{path.name} has SHA-256 {found}, but the server recorded {expected_sha256} for "
            "this pack: it was altered or is another file, and will not be run. Download it "
            "again (prereview eval pack download) or ask its owner which version you have"
        )


@contextmanager
def loaded_pack(path: Path, ref: PackRef) -> Iterator[LoadedPack]:
    """Verify, unpack and import the pack; its modules are unloaded again afterwards."""
    verify(path, ref.sha256)
    with tempfile.TemporaryDirectory(prefix="prereview-pack-run-") as folder:
        manifest = archive.extract(path, Path(folder))
        if (manifest.name, manifest.version) != (ref.name, ref.version):
            raise PackInvalid(
                f"the pack's manifest says {manifest.reference}, the server {ref.name}@"
                f"{ref.version}"
            )
        package = manifest.package
        if package in sys.modules or importlib.util.find_spec(package) is not None:
            raise PackInvalid(
                f"the pack's package '{package}' would shadow a module already installed here"
            )
        sys.path.insert(0, folder)
        try:
            module = importlib.import_module(package)
            tasks: dict[str, Callable[..., Task]] = {}
            for name in manifest.tasks:
                function = getattr(module, name, None)
                if not callable(function):
                    raise PackInvalid(f"the pack lists task '{name}', which {package} lacks")
                tasks[name] = function
            yield LoadedPack(manifest, tasks)
        finally:
            sys.path.remove(folder)
            for loaded in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
                del sys.modules[loaded]


def _checked(task: Task, name: str) -> Task:
    sandbox = task.sandbox
    kind = getattr(sandbox, "type", None)
    if kind in UNISOLATED_SANDBOXES:
        raise UnisolatedSandbox(
            f"pack task {name!r}: the {kind!r} sandbox would run the model's tool calls in "
            "your own environment, with your tokens and files; it is not run"
        )
    return task


def run_pack(
    path: Path,
    ref: PackRef,
    model: str | Model,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    tasks: list[str] | None = None,
    epochs: int = 1,
    log_dir: str | None = None,
    max_samples: int | None = None,
    model_args: dict[str, Any] | None = None,
    generate_config: GenerateConfig | None = None,
) -> SuiteResult:
    """Verify the pack at ``path`` against ``ref`` and run its tasks (all, or those named)
    against ``model``; every log names the pack (id, name, version, SHA-256)."""
    args = dict(model_args or {})
    if isinstance(model, str) and model.startswith("openai/") and base_url:
        args.setdefault("responses_api", False)
    resolved = (
        model
        if isinstance(model, Model)
        else get_model(
            model,
            base_url=base_url,
            api_key=api_key,
            config=generate_config or GenerateConfig(),
            **args,
        )
    )
    with loaded_pack(path, ref) as pack:
        chosen = tasks or list(pack.tasks)
        unknown = sorted(set(chosen) - set(pack.tasks))
        if unknown:
            raise PackInvalid(f"the pack has no task {', '.join(unknown)}")
        built = [_checked(pack.tasks[name](), name) for name in chosen]
        started = time.perf_counter()
        logs = eval(
            built,
            model=resolved,
            epochs=epochs,
            log_dir=log_dir,
            max_samples=max_samples,
            display="none",
            log_level="warning",
            fail_on_error=False,
            score_display=False,
            metadata={
                LOG_METADATA_KEY: {
                    "id": ref.id,
                    "name": ref.name,
                    "version": ref.version,
                    "sha256": ref.sha256,
                }
            },
        )
    return SuiteResult(
        model=str(resolved),
        tasks=[result_from_log(log) for log in logs],
        duration_s=time.perf_counter() - started,
    )
