"""Generated multi-file programs for ``vuln_discovery``, each with a semantic safe twin.

A program is a small Python package under ``src/<app>/``: request handlers, a sink
module (a shell call, a SQL query, a file operation, a table), the helpers that guard
it, and unrelated utility code, with the data flowing across the files. The
vulnerable program and its safe twin are made of the *same tokens*: they differ only
in which variable a sanitiser is applied to, in the order of two statements, or in
which of two constants bounds an index, so a matcher over the source's surface sees
both twins alike. Every name comes from the seed.

The kinds, and what separates the twins:

- ``shell-wrong-variable`` (CWE-78): the handler cleans the report label instead of
  the target that reaches ``shell=True``;
- ``sql-wrong-variable`` (CWE-89): the handler quotes the bound parameter instead of
  the one pasted into the query;
- ``check-after-use`` (CWE-22): the file is deleted before its path is checked;
- ``decode-after-check`` (CWE-22): the name is checked, then percent-decoded;
- ``index-bound`` (CWE-129): the index is bounded by the row width rather than the
  last index, and rows are strided by the last index: a tenant reads the next one's.

An answer names the file, the function and the CWE; a pair counts only when the
vulnerable program is found exactly and its twin is called safe.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

_WORDS = (
    "account",
    "asset",
    "batch",
    "claim",
    "device",
    "invoice",
    "ledger",
    "meter",
    "order",
    "patient",
    "profile",
    "report",
    "sensor",
    "shipment",
    "ticket",
    "vendor",
)
_VERBS = ("load", "fetch", "find", "read", "render", "check", "lookup", "resolve", "build")
_APPS = ("portal", "desk", "hub", "tracker", "console", "registry", "depot", "relay")
_MODULES = ("core", "service", "store", "util", "io", "api", "jobs", "views", "model")


@dataclass(frozen=True)
class Program:
    """One generated program (several files), vulnerable or safe, with its ground truth."""

    id: str
    kind: str
    pair: str
    files: dict[str, str]  # path relative to /work -> source
    vulnerable: bool
    file: str  # where the weakness is (the vulnerable twin's answer)
    function: str
    locations: tuple[tuple[str, str], ...]  # every (file, function) accepted as the answer
    cwe: str
    accepted_cwes: tuple[str, ...]


@dataclass(frozen=True)
class _Twins:
    vulnerable: dict[str, str]
    safe: dict[str, str]
    locations: tuple[tuple[str, str], ...]


class _Names:
    """Distinct identifiers drawn from one seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def fresh(self, make: Callable[[], str]) -> str:
        while True:
            name = make()
            if name not in self.used:
                self.used.add(name)
                return name

    def function(self) -> str:
        return self.fresh(lambda: f"{self.rng.choice(_VERBS)}_{self.rng.choice(_WORDS)}")

    def variable(self) -> str:
        return self.fresh(
            lambda: (
                f"{self.rng.choice(_WORDS)}_{self.rng.choice(('id', 'ref', 'key', 'name', 'tag'))}"
            )
        )

    def role(self, choices: tuple[str, ...]) -> str:
        return self.fresh(lambda: f"{self.rng.choice(choices)}_{self.rng.choice(_WORDS)}")

    def module(self) -> str:
        return self.fresh(lambda: f"{self.rng.choice(_WORDS)}_{self.rng.choice(_MODULES)}")


def _filler(names: _Names) -> str:
    rng = names.rng
    chunks = []
    for _ in range(rng.randint(1, 3)):
        fn, arg = names.function(), rng.choice(_WORDS)
        chunks.append(
            rng.choice(
                (
                    f"def {fn}({arg}s):\n    return sum(x.get('amount', 0) for x in {arg}s)\n",
                    f"def {fn}({arg}):\n    return str({arg}).strip().title()\n",
                    f"def {fn}({arg}s):\n    out = {{}}\n    for x in {arg}s:\n"
                    "        out[x['id']] = x\n    return out\n",
                    f"def {fn}({arg}, limit=20):\n    text = str({arg})\n"
                    "    return text if len(text) <= limit else text[: limit - 1] + '~'\n",
                )
            )
        )
    return "\n\n".join(chunks)


def _module(doc: str, imports: list[str], body: str, names: _Names, filler: bool) -> str:
    parts = [f'"""{doc}"""\n']
    if imports:
        parts.append("\n".join(imports) + "\n")
    extra = _filler(names) if filler else ""
    if extra and names.rng.random() < 0.5:
        parts += [extra, body]
    else:
        parts += [body] + ([extra] if extra else [])
    return "\n\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def _handler(
    names: _Names, app: str, helper: tuple[str, str], sink: tuple[str, str], vulnerable: bool
) -> tuple[str, str]:
    # both twins clean the same variable; they pass it in the other argument position
    (helper_mod, helper_fn), (sink_mod, sink_fn) = helper, sink
    handle, a, b = names.role(("handle", "on", "serve")), names.variable(), names.variable()
    call = f"{sink_fn}({a}, {b})" if vulnerable else f"{sink_fn}({b}, {a})"
    body = (
        f"def {handle}(request):\n"
        f"    {a} = request.get({a!r}, '')\n"
        f"    {b} = request.get({b!r}, '')\n"
        f"    {a} = {helper_fn}({a})\n"
        f"    return {call}\n"
    )
    imports = [
        f"from {app}.{helper_mod} import {helper_fn}",
        f"from {app}.{sink_mod} import {sink_fn}",
    ]
    return handle, _module("Request handlers.", imports, body, names, True)


def _wrong_variable(names: _Names, app: str, sql: bool) -> _Twins:
    helper_mod, sink_mod, handlers_mod = names.module(), names.module(), names.module()
    helper_fn = names.role(("quote", "escape") if sql else ("clean", "sanitize", "normalize"))
    sink_fn = names.role(("find", "query", "select") if sql else ("probe", "diagnose", "ping"))
    first, second = names.variable(), names.variable()
    if sql:
        helper = _module(
            "Quoting of SQL string literals.",
            [],
            f"def {helper_fn}(value):\n"
            '    """Double every single quote, as inside an SQL string literal."""\n'
            '    return str(value).replace("\'", "\'\'")\n',
            names,
            True,
        )
        sink = _module(
            "Queries of the people table.",
            ["import sqlite3", "", "DB = sqlite3.connect(':memory:')"],
            f"def {sink_fn}({first}, {second}):\n"
            f'    """People named {second} in team {first} (the team is a bound parameter)."""\n'
            f'    sql = {_QUERY!r} + {second} + "\'"\n'
            f"    return DB.execute(sql, ({first},)).fetchall()\n",
            names,
            False,
        )
    else:
        helper = _module(
            "Input normalisation shared by the handlers.",
            ["import re", "", "_UNSAFE = re.compile(r'[^A-Za-z0-9._-]')"],
            f"def {helper_fn}(value):\n"
            '    """Drop every character outside [A-Za-z0-9._-]."""\n'
            "    return _UNSAFE.sub('', str(value))\n",
            names,
            True,
        )
        tool = names.rng.choice(("ping -c 1", "host", "nslookup", "traceroute -m 3"))
        sink = _module(
            "Runs the diagnostics tool.",
            ["import subprocess", "", f"TOOL = {tool!r}"],
            f"def {sink_fn}({first}, {second}):\n"
            f'    """Run TOOL against {second}; {first} only names the report."""\n'
            f"    out = subprocess.run(TOOL + ' ' + {second}, shell=True,\n"
            "                         capture_output=True, text=True)\n"
            f"    return {{'report': {first}, 'output': out.stdout.strip()}}\n",
            names,
            False,
        )
    handler_path = f"src/{app}/{handlers_mod}.py"
    handles: list[str] = []

    def handlers(n: _Names, vulnerable: bool) -> dict[str, str]:
        handle, text = _handler(n, app, (helper_mod, helper_fn), (sink_mod, sink_fn), vulnerable)
        handles.append(handle)
        return {handler_path: text}

    vulnerable, safe = _twin_files(names, handlers)
    base = {f"src/{app}/{helper_mod}.py": helper, f"src/{app}/{sink_mod}.py": sink}
    return _Twins(
        {**base, **vulnerable},
        {**base, **safe},
        ((handler_path, handles[0]), (f"src/{app}/{sink_mod}.py", sink_fn)),
    )


def _twin_files(
    names: _Names, build: Callable[[_Names, bool], dict[str, str]]
) -> tuple[dict[str, str], dict[str, str]]:
    state = names.rng.getstate()
    used = set(names.used)
    vulnerable = build(names, True)
    after, used_after = names.rng.getstate(), set(names.used)
    names.rng.setstate(state)
    names.used = used
    safe = build(names, False)
    names.rng.setstate(after)
    names.used = used_after
    return vulnerable, safe


def _check_after_use(names: _Names, app: str) -> _Twins:
    paths_mod, store_mod = names.module(), names.module()
    resolve = names.role(("resolve", "locate", "path_of"))
    ensure = names.role(("ensure_inside", "require_under_root", "confine"))
    remove = names.role(("delete", "remove", "purge"))
    arg = names.variable()
    paths = _module(
        "Where the uploaded files live.",
        ["import os", "", f"ROOT = '/srv/{app}/files'"],
        f"def {resolve}(name):\n    return os.path.normpath(os.path.join(ROOT, name))\n\n\n"
        f"def {ensure}(path):\n"
        "    if os.path.commonpath([ROOT, path]) != ROOT:\n"
        "        raise PermissionError(path)\n",
        names,
        True,
    )

    def store(n: _Names, vulnerable: bool) -> dict[str, str]:
        steps = ["    os.remove(path)", f"    {ensure}(path)"]
        if not vulnerable:
            steps.reverse()
        body = (
            f"def {remove}({arg}):\n    path = {resolve}({arg})\n"
            + "\n".join(steps)
            + "\n    return path\n"
        )
        imports = ["import os", "", f"from {app}.{paths_mod} import {ensure}, {resolve}"]
        return {f"src/{app}/{store_mod}.py": _module("Deleting uploads.", imports, body, n, True)}

    vulnerable, safe = _twin_files(names, store)
    base = {f"src/{app}/{paths_mod}.py": paths}
    return _Twins(
        {**base, **vulnerable}, {**base, **safe}, ((f"src/{app}/{store_mod}.py", remove),)
    )


def _decode_after_check(names: _Names, app: str) -> _Twins:
    check_mod, fetch_mod = names.module(), names.module()
    check = names.role(("validate", "check", "vet"))
    fetch = names.role(("serve", "open", "fetch"))
    raw = names.variable()
    checker = _module(
        "Validation of the names clients ask for.",
        [],
        f"def {check}(name):\n"
        "    if name.startswith('/') or '..' in name.split('/'):\n"
        "        raise PermissionError(name)\n"
        "    return name\n",
        names,
        True,
    )

    def fetcher(n: _Names, vulnerable: bool) -> dict[str, str]:
        steps = [f"    name = unquote({raw})", f"    name = {check}(name)"]
        if vulnerable:
            steps = [f"    name = {check}({raw})", "    name = unquote(name)"]
        body = (
            f"def {fetch}({raw}):\n"
            + "\n".join(steps)
            + "\n    with open(os.path.join(ROOT, name)) as handle:\n        return handle.read()\n"
        )
        imports = [
            "import os",
            "from urllib.parse import unquote",
            "",
            f"from {app}.{check_mod} import {check}",
            "",
            f"ROOT = '/srv/{app}/public'",
        ]
        return {
            f"src/{app}/{fetch_mod}.py": _module("Serving public files.", imports, body, n, True)
        }

    vulnerable, safe = _twin_files(names, fetcher)
    base = {f"src/{app}/{check_mod}.py": checker}
    return _Twins({**base, **vulnerable}, {**base, **safe}, ((f"src/{app}/{fetch_mod}.py", fetch),))


_QUERY = "SELECT id, email FROM people WHERE team = ? AND name = '"
_BOUNDS = (
    ("SLOTS", "LAST"),
    ("WIDTH", "TOP"),
    ("PER_TENANT", "MAX_INDEX"),
    ("CAPACITY", "HIGHEST"),
)


def _index_bound(names: _Names, app: str) -> _Twins:
    layout_mod, table_mod = names.module(), names.module()
    cell, tenant, index = names.role(("cell", "slot", "entry")), "tenant", "index"
    width, top = names.rng.choice(_BOUNDS)
    slots, tenants = names.rng.randint(4, 16), names.rng.randint(3, 9)
    layout = _module(
        "How the shared table is laid out: one row of cells per tenant.",
        [],
        f"{width} = {slots}\n{top} = {width} - 1\nTENANTS = {tenants}\n",
        names,
        True,
    )

    def table(n: _Names, vulnerable: bool) -> dict[str, str]:
        bound, stride = (width, top) if vulnerable else (top, width)
        body = (
            f"_cells = [None] * ({width} * TENANTS)\n\n\n"
            f"def {cell}({tenant}, {index}):\n"
            f"    if {index} < 0 or {index} > {bound}:\n"
            f"        raise IndexError({index})\n"
            f"    return _cells[{tenant} * {stride} + {index}]\n"
        )
        imports = [f"from {app}.{layout_mod} import {top}, {width}, TENANTS"]
        return {f"src/{app}/{table_mod}.py": _module("Per-tenant cells.", imports, body, n, True)}

    vulnerable, safe = _twin_files(names, table)
    base = {f"src/{app}/{layout_mod}.py": layout}
    return _Twins({**base, **vulnerable}, {**base, **safe}, ((f"src/{app}/{table_mod}.py", cell),))


@dataclass(frozen=True)
class _Kind:
    cwe: str
    accepted: tuple[str, ...]
    build: Callable[[_Names, str], _Twins]


KINDS: dict[str, _Kind] = {
    "shell-wrong-variable": _Kind(
        "CWE-78", ("CWE-78", "CWE-77"), lambda n, app: _wrong_variable(n, app, sql=False)
    ),
    "sql-wrong-variable": _Kind(
        "CWE-89", ("CWE-89",), lambda n, app: _wrong_variable(n, app, sql=True)
    ),
    "check-after-use": _Kind("CWE-22", ("CWE-22", "CWE-23", "CWE-696"), _check_after_use),
    "decode-after-check": _Kind(
        "CWE-22", ("CWE-22", "CWE-23", "CWE-174", "CWE-179", "CWE-180"), _decode_after_check
    ),
    "index-bound": _Kind("CWE-129", ("CWE-129", "CWE-125", "CWE-193", "CWE-639"), _index_bound),
}


def generate_twins(seed: int, kinds: tuple[str, ...] | None = None) -> tuple[Program, Program]:
    """The vulnerable program for ``seed`` and its safe twin (same files, same tokens)."""
    chosen = kinds or tuple(KINDS)
    kind = chosen[seed % len(chosen)]
    spec = KINDS[kind]
    rng = random.Random(f"prereview-discovery-{seed}")  # noqa: S311 - reproducible, not secret
    names = _Names(rng)
    app = f"{rng.choice(_WORDS)}_{rng.choice(_APPS)}"
    twins = spec.build(names, app)
    extras = {
        f"src/{app}/__init__.py": f'"""The {app.replace("_", " ")} service."""\n',
        f"src/{app}/{names.module()}.py": _module(
            "Formatting helpers.", [], _filler(names), names, False
        ),
    }
    pair = f"{kind}-{seed}"
    file, function = twins.locations[0]
    programs = [
        Program(
            id=f"{pair}-{'vulnerable' if vulnerable else 'safe'}",
            kind=kind,
            pair=pair,
            files=dict(sorted({**extras, **files}.items())),
            vulnerable=vulnerable,
            file=file,
            function=function,
            locations=twins.locations,
            cwe=spec.cwe,
            accepted_cwes=spec.accepted,
        )
        for vulnerable, files in ((True, twins.vulnerable), (False, twins.safe))
    ]
    return programs[0], programs[1]
