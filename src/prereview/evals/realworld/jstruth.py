"""Ground truth of the JavaScript discovery tasks: which functions a release diff changed.

The functions of a file and their line spans come from acorn, a real JavaScript parser
(pinned with its sha512 in ``package-lock.json``, installed by ``make``'s ``npm ci``), run
by node on ``jsfunctions.js`` (which documents how a function is named: ``X.m`` for a
method of ``X``'s prototype, ``outer.inner`` for a function declared inside a named one).
The lines are diffed as for Python (``truth.py``): each replaced or deleted line counts
for the innermost named function around it, an insertion for the innermost function
whose body holds the insertion point. A change outside every named function (a new
top-level constant) counts for none. Only the parser runs: the release's code is never
executed on the host.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from prereview.evals.realworld.truth import _changed_lines, _Function, diff_locations

NODE = "/usr/bin/node"
FINDER = Path(__file__).with_name("jsfunctions.js")
ACORN = Path(__file__).resolve().parents[4] / "node_modules" / "acorn" / "dist" / "acorn.js"
_TIMEOUT = 60


class JsParseError(RuntimeError):
    """acorn is missing or could not parse a file."""


@cache
def js_functions(source: str) -> tuple[_Function, ...]:
    """Every named function of ``source`` (see ``jsfunctions.js``), with its lines."""
    if not ACORN.is_file():
        raise JsParseError(f"{ACORN} is missing: run `make install` (npm ci)")
    done = subprocess.run(  # noqa: S603 - our own script, the source on stdin
        [NODE, str(FINDER), str(ACORN)],
        input=source.encode(),
        capture_output=True,
        timeout=_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise JsParseError(done.stderr.decode(errors="replace")[-500:])
    return tuple(_Function(str(n), int(a), int(b)) for n, a, b in json.loads(done.stdout))


def _holding(functions: Iterable[_Function], first: int, last: int) -> _Function | None:
    around = [f for f in functions if f.start <= first and last <= f.end]
    return min(around, key=lambda f: f.end - f.start) if around else None


def changed_js_functions(old_text: str, new_text: str) -> set[str]:
    """Names of the functions of ``old_text`` that the change to ``new_text`` touched."""
    functions = js_functions(old_text)
    touched: set[str] = set()
    for line, inserted, _first in _changed_lines(old_text.splitlines(), new_text.splitlines()):
        # an insertion lies between ``line`` and ``line + 1``
        function = _holding(functions, line, line + 1 if inserted else line)
        if function is not None:
            touched.add(function.qualname)
    return touched


def diff_js_locations(
    vulnerable: Mapping[str, bytes], fixed: Mapping[str, bytes], paths: Iterable[str]
) -> list[tuple[str, str]]:
    """(path, function) of each function in ``paths`` that the fix changed."""
    return diff_locations(vulnerable, fixed, paths, changed_js_functions)
