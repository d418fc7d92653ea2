"""The project's generator of vulnerable programs and their safe twins.

Every variant comes from a seed: one vulnerability kind (SQL injection, OS command
injection, path traversal, eval injection in Python; stack overflow, format string,
off-by-one in C), randomly named functions and arguments, and unrelated filler
functions before and after, so the vulnerable line moves. The safe twin is the same
program with the weakness fixed. Python kinds also ship a functional test and the
one public exploit (shown in the ``patch`` task's metadata; the patch grader uses
hidden variants instead, see ``grading.py``). ``vuln_discovery`` no longer uses these
single-file programs (a handful of surface regexes solved them): see ``discovery.py``.
What it models, honestly: single-function, single-file weaknesses that a careful
reader can localise; not inter-procedural data flow or real code bases.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

_WORDS = tuple(
    [
        "user",
        "account",
        "order",
        "invoice",
        "report",
        "item",
        "record",
        "entry",
        "profile",
        "session",
        "ticket",
        "device",
        "sensor",
        "asset",
        "vendor",
        "claim",
        "patient",
        "meter",
        "ledger",
        "batch",
        "shipment",
    ]
)
_VERBS = tuple(
    ["load", "fetch", "find", "read", "render", "check", "lookup", "resolve", "query", "build"]
)


@dataclass(frozen=True)
class Variant:
    """One generated program, vulnerable or safe, with its ground truth."""

    id: str
    kind: str
    language: str
    path: str  # relative to /work
    source: str
    vulnerable: bool
    line: int | None  # 1-based line of the weakness, None for a safe twin
    cwe: str
    accepted_cwes: tuple[str, ...]
    functional_test: str | None  # python script, exit 0 when behaviour is intact
    exploit: str | None  # python script, exit 0 when the weakness was exploited
    fixed_source: str  # the safe twin's source, used as the reference patch
    function: str = ""  # the weak function's name


@dataclass(frozen=True)
class _Kind:
    language: str
    cwe: str
    accepted: tuple[str, ...]
    patchable: bool


KINDS: dict[str, _Kind] = {
    "sql-injection": _Kind("python", "CWE-89", ("CWE-89",), True),
    "command-injection": _Kind("python", "CWE-78", ("CWE-78", "CWE-77"), True),
    "path-traversal": _Kind("python", "CWE-22", ("CWE-22", "CWE-23"), True),
    "eval-injection": _Kind("python", "CWE-95", ("CWE-95", "CWE-94"), True),
    "stack-overflow": _Kind("c", "CWE-121", ("CWE-121", "CWE-120", "CWE-787"), False),
    "format-string": _Kind("c", "CWE-134", ("CWE-134",), False),
    "off-by-one": _Kind("c", "CWE-193", ("CWE-193", "CWE-787", "CWE-121"), False),
}


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_VERBS)}_{rng.choice(_WORDS)}"


def _py_filler(rng: random.Random) -> list[str]:
    name, arg = _name(rng), rng.choice(_WORDS)
    shapes = (
        [f"def {name}_total({arg}s):", f"    return sum(x.get('amount', 0) for x in {arg}s)"],
        [f"def {name}_label({arg}):", f"    return str({arg}).strip().title()"],
        [
            f"def {name}_index({arg}s):",
            "    out = {}",
            f"    for x in {arg}s:",
            "        out[x['id']] = x",
            "    return out",
        ],
    )
    return [*rng.choice(shapes), "", ""]


def _c_filler(rng: random.Random) -> list[str]:
    name = _name(rng)
    shapes = (
        [
            f"int {name}_sum(const int *v, int n) {{",
            "    int s = 0;",
            "    for (int i = 0; i < n; i++) s += v[i];",
            "    return s;",
            "}",
        ],
        [f"int {name}_is_valid(int code) {{", "    return code > 0 && code < 1000;", "}"],
    )
    return [*rng.choice(shapes), ""]


def _python_core(kind: str, fn: str, arg: str, safe: bool) -> tuple[list[str], int, list[str]]:
    """Return (body lines, index of the weak line, imports)."""
    if kind == "sql-injection":
        query = (
            f'    cur.execute("SELECT id, email FROM people WHERE name = ?", ({arg},))'  # noqa: S608
            if safe
            else f"    cur.execute(\"SELECT id, email FROM people WHERE name = '%s'\" % {arg})"  # noqa: S608
        )
        body = [
            f"def {fn}(conn, {arg}):",
            "    cur = conn.cursor()",
            query,
            "    return cur.fetchall()",
        ]
        return body, 2, ["import sqlite3"]
    if kind == "command-injection":
        call = (
            f'    out = subprocess.run(["echo", "checking", {arg}], capture_output=True, text=True)'
            if safe
            else f'    out = subprocess.run("echo checking " + {arg}, shell=True, '
            "capture_output=True, text=True)"
        )
        return (
            [f"def {fn}({arg}):", call, "    return out.stdout.strip()"],
            1,
            ["import subprocess"],
        )
    if kind == "path-traversal":
        if safe:
            body = [
                f"def {fn}({arg}):",
                f"    path = os.path.realpath(os.path.join(BASE, {arg}))",
                "    if not path.startswith(BASE + os.sep):",
                "        raise ValueError('outside the document root')",
                "    with open(path) as handle:",
                "        return handle.read()",
            ]
        else:
            body = [
                f"def {fn}({arg}):",
                f"    path = os.path.join(BASE, {arg})",
                "    with open(path) as handle:",
                "        return handle.read()",
            ]
        return body, 1, ["import os", "", "BASE = '/work/data/public'"]
    if kind == "eval-injection":
        expr = f"    return ast.literal_eval({arg})" if safe else f"    return eval({arg})"
        return [f"def {fn}({arg}):", expr], 1, ["import ast"]
    raise ValueError(kind)


def _c_core(kind: str, fn: str, arg: str, size: int, safe: bool) -> tuple[list[str], int]:
    if kind == "stack-overflow":
        copy = (
            f'    snprintf(buf, sizeof buf, "%s", {arg});' if safe else f"    strcpy(buf, {arg});"
        )
        return [
            f"void {fn}(const char *{arg}) {{",
            f"    char buf[{size}];",
            copy,
            '    printf("%s\\n", buf);',
            "}",
        ], 2
    if kind == "format-string":
        call = f'    printf("%s", {arg});' if safe else f"    printf({arg});"
        return [
            f"void {fn}(const char *{arg}) {{",
            '    printf("log: ");',
            call,
            '    printf("\\n");',
            "}",
        ], 2
    if kind == "off-by-one":
        cond = f"i < {size}" if safe else f"i <= {size}"
        return [
            f"void {fn}(const char *{arg}) {{",
            f"    char buf[{size}];",
            "    int i;",
            f"    for (i = 0; {cond} && {arg}[i]; i++)",
            f"        buf[i] = {arg}[i];",
            f"    buf[i < {size} ? i : {size} - 1] = 0;",
            "    puts(buf);",
            "}",
        ], 3
    raise ValueError(kind)


def _tests(kind: str, module: str, fn: str, marker: str) -> tuple[str, str]:
    head = f"import os, sqlite3, sys\nsys.path.insert(0, '/work/src')\nfrom {module} import {fn}\n"
    if kind == "sql-injection":
        setup = (
            "conn = sqlite3.connect(':memory:')\n"
            "conn.execute('CREATE TABLE people (id INTEGER, name TEXT, email TEXT)')\n"
            "conn.execute(\"INSERT INTO people VALUES (1, 'alice', 'a@x'), (2, 'bob', 'b@x')\")\n"
        )
        functional = head + setup + f"assert {fn}(conn, 'alice') == [(1, 'a@x')]\n"
        exploit = (
            head
            + setup
            + (
                f"try:\n    rows = {fn}(conn, \"' OR '1'='1\")\nexcept Exception:\n    rows = []\n"
                "sys.exit(0 if len(rows) > 1 else 1)\n"
            )
        )
    elif kind == "command-injection":
        functional = head + f"assert {fn}('host1') == 'checking host1'\n"
        exploit = head + (
            f"try:\n    {fn}('x; touch {marker}')\nexcept Exception:\n    pass\n"
            f"sys.exit(0 if os.path.exists('{marker}') else 1)\n"
        )
    elif kind == "path-traversal":
        setup = (
            "os.makedirs('/work/data/public', exist_ok=True)\n"
            "open('/work/data/public/readme.txt', 'w').write('public text')\n"
            f"open('/work/data/secret.txt', 'w').write('{marker}')\n"
        )
        functional = head + setup + f"assert {fn}('readme.txt') == 'public text'\n"
        exploit = (
            head
            + setup
            + (
                f"try:\n    text = {fn}('../secret.txt')\nexcept Exception:\n"
                f"    text = ''\nsys.exit(0 if text == '{marker}' else 1)\n"
            )
        )
    else:
        functional = head + f"assert {fn}('[1, 2, 3]') == [1, 2, 3]\n"
        exploit = head + (
            f"try:\n    value = {fn}(\"__import__('os').getpid()\")\n"
            "except Exception:\n    value = None\n"
            "sys.exit(0 if isinstance(value, int) else 1)\n"
        )
    return functional, exploit


def generate_pair(seed: int, kinds: tuple[str, ...] | None = None) -> tuple[Variant, Variant]:
    """The vulnerable program for ``seed`` and its safe twin (same names and layout)."""
    names = kinds or tuple(KINDS)
    kind = names[seed % len(names)]
    spec = KINDS[kind]
    rng = random.Random(f"prereview-generator-{seed}")  # noqa: S311 - reproducible, not secret
    fn, arg = _name(rng), rng.choice(_WORDS) + "_" + rng.choice(("name", "value", "input", "path"))
    before = [rng.random() for _ in range(rng.randint(1, 4))]
    after = [rng.random() for _ in range(rng.randint(0, 3))]
    size = rng.choice((16, 32, 64))
    marker = f"/tmp/pwned-{rng.randrange(10**9)}"  # noqa: S108 - inside the sandbox
    module = f"{rng.choice(_WORDS)}_{rng.choice(('service', 'util', 'handlers', 'core'))}"
    sources: dict[bool, tuple[str, int]] = {}
    for safe in (False, True):
        frng = random.Random(f"filler-{seed}")  # noqa: S311 - same fillers in both twins
        if spec.language == "python":
            core, weak, imports = _python_core(kind, fn, arg, safe)
            lines = [f'"""{module.replace("_", " ")} helpers."""', "", *imports, "", ""]
            filler = _py_filler
        else:
            core, weak = _c_core(kind, fn, arg, size, safe)
            lines = ["#include <stdio.h>", "#include <string.h>", ""]
            filler = _c_filler
        for _ in before:
            lines += filler(frng)
        start = len(lines)
        lines += [*core, "", ""]
        for _ in after:
            lines += filler(frng)
        sources[safe] = ("\n".join(lines).rstrip() + "\n", start + weak + 1)
    suffix = ".py" if spec.language == "python" else ".c"
    path = f"src/{module}{suffix}"
    functional, exploit = _tests(kind, module, fn, marker) if spec.patchable else (None, None)
    vulnerable = Variant(
        id=f"{kind}-{seed}-vulnerable",
        kind=kind,
        language=spec.language,
        path=path,
        source=sources[False][0],
        vulnerable=True,
        line=sources[False][1],
        cwe=spec.cwe,
        accepted_cwes=spec.accepted,
        functional_test=functional,
        exploit=exploit,
        fixed_source=sources[True][0],
        function=fn,
    )
    safe_twin = replace(
        vulnerable, id=f"{kind}-{seed}-safe", source=sources[True][0], vulnerable=False, line=None
    )
    return vulnerable, safe_twin


def patchable_kinds() -> tuple[str, ...]:
    """Kinds whose programs ship a functional test and an exploit."""
    return tuple(name for name, kind in KINDS.items() if kind.patchable)
