"""What of a C patch is built, and building it under the sanitizer.

:func:`graded_tree` keeps a patch's C sources and headers over the pinned release;
:func:`build_native` builds a tree's extension modules in a sandbox of its own and
refuses what the symbol rule (:func:`.symbols.symbol_refusal`) refuses; the pinned
vulnerable release is built once per process (:func:`pinned_build`).
"""

from __future__ import annotations

from collections.abc import Mapping

from prereview.evals.grading import GradingError
from prereview.evals.realworld.archive import source_tree
from prereview.evals.realworld.case import Case
from prereview.evals.realworld.native.registry import NATIVE
from prereview.evals.realworld.native.sandbox import sandboxed
from prereview.evals.realworld.native.symbols import symbol_refusal
from prereview.evals.sandbox import BwrapConfig

# the files a C patch is graded on; the others come from the pinned release
C_SUFFIXES = (".c", ".h", ".cc", ".cpp", ".hh", ".hpp")


def graded_tree(case: Case, tree: Mapping[str, bytes]) -> dict[str, bytes]:
    """What a C patch is graded on: its C sources and headers (:data:`C_SUFFIXES`), every
    other file the pinned vulnerable release's. A patch's Python files are not loaded: a
    wrapper could run Python beside the driver, and ``ctypes`` reaches the sanitizer's
    interface from there; a file it adds that is not C is ignored the same way."""
    pinned = source_tree(case.package, case.vulnerable, case.vulnerable_root)
    kept = {path: data for path, data in pinned.items() if not path.endswith(C_SUFFIXES)}
    return kept | {path: data for path, data in tree.items() if path.endswith(C_SUFFIXES)}


async def build_native(
    case: Case, tree: Mapping[str, bytes], config: BwrapConfig
) -> dict[str, bytes] | str:
    """``tree`` with its extension modules built under the sanitizer (in a sandbox of
    its own), or why not: the compiler's complaint, or :func:`symbol_refusal`'s."""
    result, built = await sandboxed(case, tree, {"group": "build"}, config)
    if not result.get("built") or len(built) != len(NATIVE[case.id].modules):
        return "the tree does not build: " + str(result.get("log", ""))[-1000:]
    if "no_nm" in result or not isinstance(result.get("symbols"), dict):
        raise GradingError(f"nm cannot run in the build sandbox: {result.get('no_nm')}")
    if "nm" in result:  # nm ran but could not read what the patch built
        return "the build is refused: nm cannot read the module: " + str(result["nm"])[-500:]
    refused = symbol_refusal(result["symbols"])
    if refused is not None:
        return "the build is refused: " + refused
    modules = {m.name.rsplit(".", 1)[-1]: m.name for m in NATIVE[case.id].modules}
    placed = dict(tree)
    for name, data in built.items():
        stem = name.split(".", 1)[0]
        relative = modules[stem].replace(".", "/") + name[len(stem) :]
        placed[relative] = data
    return placed


_PINNED_BUILDS: dict[tuple[str, str], dict[str, bytes]] = {}


async def pinned_build(case: Case, config: BwrapConfig) -> dict[str, bytes]:
    """The vulnerable release built under the sanitizer, once per process (it is pinned)."""
    key = (case.id, case.vulnerable)
    if key not in _PINNED_BUILDS:
        tree = source_tree(case.package, case.vulnerable, case.vulnerable_root)
        built = await build_native(case, tree, config)
        if isinstance(built, str):
            raise GradingError(f"{case.id}: the pinned release did not build: {built}")
        _PINNED_BUILDS[key] = built
    return _PINNED_BUILDS[key]
