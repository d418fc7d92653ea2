"""Text that every supported database stores alike.

PostgreSQL refuses U+0000 in a text value (the driver raises ``DataError``, which would be a
500 after the request was parsed and checked), while SQLite stores it. So the engine refuses
such a value before any statement runs, on both databases: whatever field, query or path
parameter it came from, the answer is a 422 ``nul-in-text`` problem and, the transaction
being rolled back, nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from prereview.core.errors import NulInText


def _rows(parameters: Any, executemany: bool) -> list[Any]:
    if parameters is None:
        return []
    return list(parameters) if executemany else [parameters]


def _refuse_nul(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    for row in _rows(parameters, executemany):
        values = row.values() if isinstance(row, Mapping) else row
        if isinstance(values, str | bytes):
            values = [values]
        for value in values:
            if isinstance(value, str) and "\x00" in value:
                raise NulInText(
                    "a text value holds a NUL character (\\u0000), which cannot be stored; "
                    "remove it and send the request again"
                )


def refuse_nul_in_text(engine: Engine) -> None:
    """Make ``engine`` refuse, with :class:`NulInText`, any statement binding text with NUL."""
    event.listen(engine, "before_cursor_execute", _refuse_nul)
