"""Two reports side by side: a word-level diff of their descriptions, for the analyst who decides
whether they are one vulnerability.

The pieces are plain text (the template escapes them, so a description cannot inject markup);
each says whether it is common to both, only on the left, or only on the right. ``difflib``'s
matcher is quadratic at worst, so very long descriptions are compared on their first
:data:`MAX_WORDS` words, and the answer says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Literal

MAX_WORDS = 4000
_TOKENS = re.compile(r"\s+|[^\s]+")

PieceKind = Literal["same", "removed", "added"]


@dataclass(frozen=True)
class Piece:
    kind: PieceKind
    text: str


@dataclass(frozen=True)
class SideBySide:
    """The left text's pieces (common or only there), the right's, and how alike they are."""

    left: list[Piece] = field(default_factory=list)
    right: list[Piece] = field(default_factory=list)
    ratio: float = 1.0
    truncated: bool = False


def _words(text: str) -> tuple[list[str], bool]:
    tokens = _TOKENS.findall(text)
    # Every other token is white space: MAX_WORDS words are about twice as many tokens.
    if len(tokens) > 2 * MAX_WORDS:
        return tokens[: 2 * MAX_WORDS], True
    return tokens, False


def _append(pieces: list[Piece], kind: PieceKind, text: str) -> None:
    if not text:
        return
    if pieces and pieces[-1].kind == kind:
        pieces[-1] = Piece(kind, pieces[-1].text + text)
    else:
        pieces.append(Piece(kind, text))


def side_by_side(left: str, right: str) -> SideBySide:
    """The word-level diff of ``left`` and ``right`` as two columns of pieces."""
    a, cut_a = _words(left)
    b, cut_b = _words(right)
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    result = SideBySide(ratio=round(matcher.ratio(), 3), truncated=cut_a or cut_b)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _append(result.left, "same", "".join(a[i1:i2]))
            _append(result.right, "same", "".join(b[j1:j2]))
            continue
        _append(result.left, "removed", "".join(a[i1:i2]))
        _append(result.right, "added", "".join(b[j1:j2]))
    return result
