"""Answers in the public model's name: rewriting the ``model`` an upstream answers with.

A developer registers its endpoint with the model id its own servers use (often an internal
release-candidate name) and a public name that reviewers send. The upstream answers with its
id (or a snapshot name of its own), which would tell every reviewer, and every log of theirs,
the developer's internal naming. :class:`ModelRename` puts the public name in its place:

* :meth:`ModelRename.field` rewrites the top-level ``model`` member of a JSON object in place,
  on the bytes, without decoding the answer (the relay's budget is a fraction of a
  millisecond, and a completion can be large); only the value's bytes change.
* :meth:`ModelRename.text` replaces the internal id wherever an upstream's error message
  quotes it.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

# A "model" key and its value (a JSON string or null). A quote inside a JSON string is always
# escaped, so this can match inside a string only where a key ends in `\"model` (checked for
# below by the byte before the match).
_MODEL_MEMBER = re.compile(rb'"model"\s*:\s*("[^"\\]*(?:\\.[^"\\]*)*"|null)')
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_OPENERS = frozenset(b"{,")
_SPACE = frozenset(b" \t\r\n")


class ModelRename:
    """Puts ``public`` where an upstream's answer names its model (``internal`` or another)."""

    __slots__ = ("_internal_text", "_public_text", "_public_value")

    def __init__(self, public: str, internal: str) -> None:
        self._public_value = json.dumps(public).encode()
        # As the names appear inside a JSON string (escaped, without the quotes).
        self._public_text = self._public_value[1:-1]
        self._internal_text = json.dumps(internal).encode()[1:-1]

    def field(self, payload: bytes) -> bytes:
        """``payload`` (one JSON object) with its top-level ``model`` naming the public model.

        Returns ``payload`` itself when it has no top-level ``model`` or already names it.
        """
        match = _MODEL_MEMBER.search(payload)
        while match is not None:
            if _top_level_key(payload, match.start()):
                start, end = match.span(1)
                public = self._public_value
                if end - start == len(public) and payload.startswith(public, start):
                    return payload
                return payload[:start] + public + payload[end:]
            match = _MODEL_MEMBER.search(payload, match.end())
        return payload

    def text(self, body: bytes) -> bytes:
        """``body`` with the internal model id replaced by the public name (error messages)."""
        internal = self._internal_text
        if not internal or internal == self._public_text or internal not in body:
            return body
        return body.replace(internal, self._public_text)


@lru_cache(maxsize=4096)
def rename_for(public: str, internal: str) -> ModelRename:
    """The (shared, immutable) :class:`ModelRename` of one registration, built once."""
    return ModelRename(public, internal)


def _top_level_key(payload: bytes, quote: int) -> bool:
    """Whether the quote at ``quote`` opens a key of the outermost object of ``payload``."""
    # Indexing, not slicing: this runs on every streamed chunk.
    at = quote - 1
    while at >= 0 and payload[at] in _SPACE:
        at -= 1
    if at < 0 or payload[at] not in _OPENERS:
        # Not after `{` or `,`: the quote is escaped, inside a key such as "x\"model".
        return False
    if payload.find(b"{", 1, at) < 0 and payload.find(b"[", 0, at) < 0:
        # The common case (the model comes before "choices"): nothing is nested before it.
        return True
    # Strings may hold brackets: drop them, then the nesting depth must be one.
    skeleton = _STRING.sub(b"", payload[: at + 1])
    depth = skeleton.count(b"{") + skeleton.count(b"[")
    return depth - skeleton.count(b"}") - skeleton.count(b"]") == 1
