"""Ground truth of the discovery tasks, computed from the diff to the fixed release.

For each file of the vulnerable tree that the fix touched (restricted to the files a
case names, since a release diff also carries unrelated changes), the lines the fix
replaced or deleted, and the places where it inserted code into an existing body, are
mapped to the innermost function around them. A changed module- or class-level
statement (PyYAML's fix moves constructor registrations between classes) counts for the
functions of the file that statement names. Nobody types the answer in by hand.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class _Function:
    qualname: str
    start: int
    end: int


def _functions(tree: ast.AST) -> list[_Function]:
    found: list[_Function] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                found.append(_Function(name, child.lineno, child.end_lineno or child.lineno))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _innermost(functions: list[_Function], line: int) -> _Function | None:
    around = [f for f in functions if f.start <= line <= f.end]
    return min(around, key=lambda f: f.end - f.start) if around else None


def _statement_at(tree: ast.Module, line: int) -> ast.stmt | None:
    """The module- or class-level statement that spans ``line``."""
    for node in tree.body:
        end = node.end_lineno or node.lineno
        if not node.lineno <= line <= end:
            continue
        if isinstance(node, ast.ClassDef):
            for inner in node.body:
                if inner.lineno <= line <= (inner.end_lineno or inner.lineno):
                    return inner
        return node
    return None


def _named_functions(statement: ast.stmt, functions: list[_Function]) -> set[str]:
    """Functions the statement names as values (a registration's arguments), not the
    ones it calls to do the registering."""
    callees = {id(n.func) for n in ast.walk(statement) if isinstance(n, ast.Call)}
    names = set()
    for node in ast.walk(statement):
        if id(node) in callees:
            continue
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Name):
            names.add(node.id)
    return {f.qualname for f in functions if f.qualname.rsplit(".", 1)[-1] in names}


def _changed_lines(old: list[str], new: list[str]) -> Iterable[tuple[int, bool, str]]:
    """(1-based line of ``old``, whether it is an insertion point, first inserted line)."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, _j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            for line in range(i1 + 1, i2 + 1):
                yield line, False, ""
        elif tag == "insert":
            yield i1, True, new[j1]


def changed_functions(old_text: str, new_text: str) -> set[str]:
    """Qualified names of the functions of ``old_text`` that the change to ``new_text``
    touched (see the module's docstring for the rules)."""
    tree = ast.parse(old_text)
    functions = _functions(tree)
    old, new = old_text.splitlines(), new_text.splitlines()
    touched: set[str] = set()
    for line, inserted, first in _changed_lines(old, new):
        if inserted:
            before, after = _innermost(functions, line), _innermost(functions, line + 1)
            if before is not None and (before == after or first[:1].isspace()):
                if first.lstrip().startswith(("def ", "@", "class ")) and before != after:
                    continue  # a new definition after this function, not a change to it
                touched.add(before.qualname)
            continue
        function = _innermost(functions, line)
        if function is not None:
            touched.add(function.qualname)
            continue
        statement = _statement_at(tree, line)
        if statement is not None:
            touched |= _named_functions(statement, functions)
    return touched


def diff_locations(
    vulnerable: Mapping[str, bytes],
    fixed: Mapping[str, bytes],
    paths: Iterable[str],
    changed: Callable[[str, str], set[str]] = changed_functions,
    errors: str = "strict",
) -> list[tuple[str, str]]:
    """(path, function qualname) of each function in ``paths`` that the fix changed.

    ``changed`` names the touched functions of one file (Python's by default; the
    JavaScript and C cases pass their own parsers'); ``errors`` is how undecodable bytes
    are read (C sources are not always UTF-8)."""
    locations = set()
    for path in paths:
        old = vulnerable[path].decode(errors=errors)
        new = fixed[path].decode(errors=errors) if path in fixed else ""
        locations |= {(path, name) for name in changed(old, new)}
    return sorted(locations)
