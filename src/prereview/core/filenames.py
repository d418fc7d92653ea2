"""File names that people send, kept as given, and sent back in a header that works for any.

A material's name is stored as the uploader wrote it (in Unicode NFC), so ``报告.pdf`` or a name
with an emoji is kept, but names that cannot be shown or sent safely are refused at upload
(422): control characters (including DEL), line and paragraph separators (U+2028, U+2029),
bidirectional overrides (which make ``exe.pdf`` read as ``fdp.exe``), path separators, ``.``
and ``..``, and names over 255 characters. Downloads carry the name in ``Content-Disposition``
as RFC 6266 / RFC 5987 ``filename*=UTF-8''...`` with an ASCII ``filename=`` fallback, so the
header is plain ASCII whatever the name.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from prereview.core.errors import InvalidInput

MAX_FILENAME_CHARS = 255
# Bidirectional embeddings, overrides and isolates: they reorder what a person reads.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp", "Co", "Cn"})


class InvalidFilename(InvalidInput):
    slug = "invalid-filename"
    title = "The file name is not accepted"


def clean_filename(name: str) -> str:
    """``name`` in NFC, or :class:`InvalidFilename` saying what is wrong with it."""
    normal = unicodedata.normalize("NFC", name)
    if not normal.strip():
        raise InvalidFilename("the file name is empty")
    if len(normal) > MAX_FILENAME_CHARS:
        raise InvalidFilename(f"the file name is over {MAX_FILENAME_CHARS} characters")
    if normal in {".", ".."} or "/" in normal or "\\" in normal:
        raise InvalidFilename("the file name must be a name, not a path")
    for position, char in enumerate(normal):
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES or char in _BIDI_CONTROLS:
            raise InvalidFilename(
                f"the file name holds U+{ord(char):04X} ({category}) at position {position}; "
                "control characters, line separators and direction overrides are not accepted"
            )
    return normal


def _ascii_fallback(name: str) -> str:
    """An ASCII rendering for old clients: accents dropped, anything else ``_``; a name with
    nothing left of its stem becomes ``download`` with the original extension."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    kept = "".join(c if c.isprintable() and c not in '"\\%' else "_" for c in folded).strip()
    stem, dot, suffix = kept.rpartition(".")
    if not dot:
        stem, suffix = kept, ""
    if not any(c.isalnum() for c in stem):
        return "download" + (f".{suffix}" if suffix.isalnum() else "")
    return kept


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` value naming ``name`` (RFC 6266 with RFC 5987 encoding):
    ASCII only, whatever ``name`` holds, even one stored before names were checked."""
    encoded = quote(name, safe="", encoding="utf-8", errors="replace")
    return f"{disposition}; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"


__all__ = ["MAX_FILENAME_CHARS", "InvalidFilename", "clean_filename", "content_disposition"]
