"""Ground truth of the C discovery tasks: which C functions a release diff changed.

C has no parser in the standard library, and a regular expression over lines is wrong
as soon as a release reformats a signature (bsdiff4 1.2.0 moved every return type onto
its own line). So both versions are cut into tokens (comments dropped, string and
character literals kept whole, each preprocessor directive one token), the two token
streams are diffed, and each changed token of the vulnerable version is mapped to the
top-level function definition whose tokens span it. Whitespace and comment changes do
not count; a token inserted between two tokens of one body counts for that function, and
an insertion or deletion that could equally sit in several places (a diff's usual
ambiguity) is put where it touches the fewest functions.

A top-level function definition is a ``{`` at brace depth 0 whose previous token is the
``)`` closing a parameter list, named by the identifier before that list's ``(`` (K&R
parameter declarations or attributes between the ``)`` and the ``{`` are not recognised:
the releases used here have none). It spans from the first token after the previous
top-level ``;``, ``}`` or directive to its matching ``}``. Struct bodies and
initialisers (``= {``) are not functions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prereview.evals.realworld import truth

_TOKEN = re.compile(
    r"""
    (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<directive>^[ \t]*\#(?:\\\n|[^\n])*)
  | (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<word>[A-Za-z_]\w*|\d[\w.]*)
  | (?P<space>\s+)
  | (?P<punct>->|\+\+|--|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|\#\#|.)
    """,
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class Token:
    text: str
    line: int  # 1-based line of its first character
    directive: bool = False


@dataclass(frozen=True)
class CFunction:
    """A top-level function definition: its name and token range (inclusive)."""

    name: str
    first: int
    last: int


def tokens(source: str) -> list[Token]:
    """The tokens of C ``source`` with their lines; comments and whitespace dropped."""
    found: list[Token] = []
    line = 1
    for match in _TOKEN.finditer(source):
        kind, text = match.lastgroup, match.group()
        if kind == "directive":
            found.append(Token(" ".join(text.replace("\\\n", " ").split()), line, True))
        elif kind not in ("comment", "space"):
            found.append(Token(text, line))
        line += text.count("\n")
    return found


def functions(toks: list[Token]) -> list[CFunction]:
    """The top-level function definitions of a token stream (see the module's rules)."""
    found: list[CFunction] = []
    depth = 0
    start = 0  # first token of the current top-level declaration
    index = 0
    while index < len(toks):
        tok = toks[index]
        if tok.directive:
            if depth == 0:
                start = index + 1
        elif tok.text == "{":
            if depth == 0 and index > 0 and toks[index - 1].text == ")":
                name = _name_before_parameters(toks, index - 1)
                end = _matching_brace(toks, index)
                if name is not None:
                    found.append(CFunction(name, start, end))
                index, start = end + 1, end + 1
                continue
            depth += 1
        elif tok.text == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                start = index + 1
        elif tok.text == ";" and depth == 0:
            start = index + 1
        index += 1
    return found


def _name_before_parameters(toks: list[Token], close: int) -> str | None:
    """The identifier before the ``(`` that the ``)`` at ``close`` closes."""
    level = 0
    for index in range(close, -1, -1):
        text = toks[index].text
        if text == ")":
            level += 1
        elif text == "(":
            level -= 1
            if level == 0:
                if index > 0 and re.fullmatch(r"[A-Za-z_]\w*", toks[index - 1].text):
                    return toks[index - 1].text
                return None
    return None


def _matching_brace(toks: list[Token], open_index: int) -> int:
    level = 0
    for index in range(open_index, len(toks)):
        if toks[index].directive:
            continue
        if toks[index].text == "{":
            level += 1
        elif toks[index].text == "}":
            level -= 1
            if level == 0:
                return index
    return len(toks) - 1


def _owner(found: list[CFunction], index: int) -> CFunction | None:
    for function in found:
        if function.first <= index <= function.last:
            return function
    return None


def changed_functions(old_text: str, new_text: str) -> set[str]:
    """Names of the top-level functions of ``old_text`` whose tokens the change to
    ``new_text`` replaced, deleted, or inserted into."""
    old, new = tokens(old_text), tokens(new_text)
    found = functions(old)
    matcher = difflib.SequenceMatcher(
        a=[t.text for t in old], b=[t.text for t in new], autojunk=False
    )
    texts = [t.text for t in old]
    touched: set[str] = set()
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace":
            touched |= _owners(found, range(i1, i2))
        elif tag == "delete":
            touched |= min(
                (_owners(found, range(a, b)) for a, b in _slides(texts, i1, i2)), key=len
            )
        elif tag == "insert":
            run = [t.text for t in new[j1:j2]]
            touched |= min(
                (_inserted_into(found, at) for at in _insert_slides(texts, i1, run)), key=len
            )
    return touched


def _inserted_into(found: list[CFunction], at: int) -> set[str]:
    """The function that tokens inserted before token ``at`` land inside, if any."""
    before, after = _owner(found, at - 1) if at > 0 else None, _owner(found, at)
    return {before.name} if before is not None and before == after else set()


def _insert_slides(texts: list[str], at: int, run: list[str]) -> list[int]:
    """Every place an inserted run of tokens can equally be said to go (as for
    deletions: ``int added ( ) { } int`` inserted after an ``int`` is the same edit as
    ``int added ( ) { }`` inserted before it)."""
    places = [at]
    position, shifted = at, list(run)
    while position > 0 and shifted and texts[position - 1] == shifted[-1]:
        position, shifted = position - 1, [texts[position - 1], *shifted[:-1]]
        places.append(position)
    position, shifted = at, list(run)
    while position < len(texts) and shifted and texts[position] == shifted[0]:
        position, shifted = position + 1, [*shifted[1:], texts[position]]
        places.append(position)
    return places


def _owners(found: list[CFunction], indices: Iterable[int]) -> set[str]:
    return {f.name for f in (_owner(found, i) for i in indices) if f is not None}


def _slides(texts: list[str], start: int, end: int) -> list[tuple[int, int]]:
    """Every place a deleted run of tokens can equally be said to sit: deleting
    ``) ; } static void f ( ...`` from the end of one function through the next is the
    same edit as deleting ``static void f ( ... ) ; }``, so the one that touches the
    fewest functions is taken."""
    places = [(start, end)]
    a, b = start, end
    while a > 0 and texts[a - 1] == texts[b - 1]:
        a, b = a - 1, b - 1
        places.append((a, b))
    a, b = start, end
    while b < len(texts) and texts[a] == texts[b]:
        a, b = a + 1, b + 1
        places.append((a, b))
    return places


def diff_locations(
    vulnerable: Mapping[str, bytes], fixed: Mapping[str, bytes], paths: Iterable[str]
) -> list[tuple[str, str]]:
    """(path, function name) of each C function in ``paths`` that the fix changed."""
    return truth.diff_locations(vulnerable, fixed, paths, changed_functions, errors="replace")
