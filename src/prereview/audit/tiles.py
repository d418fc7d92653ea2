"""The audit log's hashes as C2SP tlog-tiles (https://c2sp.org/tlog-tiles), read-only.

A tile is 256 consecutive Merkle Tree Hashes at one height of the tree: tile ``N`` of level
``L`` holds ``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])`` for ``i`` in
``0..W-1``, ``W`` being 256 for a full tile and 1..255 for the partial tile at the right edge.
Each of those hashes covers a perfect, aligned block of ``256**L = 2**(8L)`` leaves, which is
exactly a node the log already stores (:mod:`prereview.audit.merkle`: node ``(8L, N*256 + i)``,
written once when its last leaf arrives and never changed). So a tile is one range read of at
most 256 rows on the node table's primary key, whatever the log's size, and nothing is hashed.

Tiles are immutable: a stored node never changes, so the partial tile ``N.p/W`` served today is
the first ``W`` hashes of the full tile ``N`` served later, and every partial tile a smaller
checkpoint needed stays servable. Any ``W`` the log has reached is served, not only the latest
one, so a client holding an older checkpoint still finds its tiles.

**No entry bundles.** The specification's ``tile/entries/<N>`` would publish the entries
themselves, and the audit log's entries are confidential (who read which material when): only
their leaf hashes are public here; a developer reads its own entries through the API
(``GET /api/v1/audit/entries``). :func:`parse_tile_path` answers such a path with
:class:`EntryBundlesWithheld` (a 404 that says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit.errors import AuditError, NodeMissing
from prereview.audit.head import log_size
from prereview.audit.models import AuditNode
from prereview.audit.signing import latest_checkpoint, load_signer
from prereview.audit.witnessing import WitnessPublisher, served_note
from prereview.core.settings import Settings

TILE_HEIGHT = 8
"""Tree levels spanned by one tile: tile level ``L`` holds the tree's hashes at height ``8L``."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (256, so 8,192 bytes)."""

MAX_TILE_LEVEL = 63
"""The largest tile level the specification allows in a path."""

CHECKPOINT_INTERVAL = timedelta(seconds=1)
"""The public checkpoint is signed afresh at most this often, however many readers poll it:
an unauthenticated reader may make the log sign, but not once per request."""

_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_GROUP = re.compile(r"[0-9]{3}")
# No log holds more leaves (the node table's indices are 64-bit signed integers).
_MAX_LEAVES = 2**63 - 1
# 2**63 leaves is more than a log will hold; seven groups of three digits cover every index
# of every level below that, and bound the work a hostile path can ask for.
_MAX_GROUPS = 7


class TilePathMalformed(AuditError):
    """The path is not a tile path as C2SP tlog-tiles writes one (``tile/<L>/<N>[.p/<W>]``)."""

    slug = "audit-tile-path-malformed"
    status = 400
    title = "Not a tlog-tiles path"


class TileNotFound(AuditError):
    """The tile is well formed but the log has not grown that far (or has no such level)."""

    slug = "audit-tile-not-found"
    status = 404
    title = "No such tile in the audit log"


class EntryBundlesWithheld(AuditError):
    """Entry bundles are not served: the log's entries are confidential, only hashes are public."""

    slug = "audit-entries-confidential"
    status = 404
    title = "The audit log's entries are not public"


@dataclass(frozen=True, slots=True)
class Tile:
    """Tile ``index`` of tile level ``level``, ``width`` hashes wide (256: a full tile)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_TILE_LEVEL:
            raise ValueError(f"tile level {self.level} is not in 0..{MAX_TILE_LEVEL}")
        if self.index < 0:
            raise ValueError(f"tile index {self.index} is negative")
        if not 1 <= self.width <= TILE_WIDTH:
            raise ValueError(f"tile width {self.width} is not in 1..{TILE_WIDTH}")

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def height(self) -> int:
        """The tree height of the tile's hashes (the stored nodes' level)."""
        return self.level * TILE_HEIGHT

    @property
    def first_node(self) -> int:
        """The index, at :attr:`height`, of the tile's first hash."""
        return self.index * TILE_WIDTH

    @property
    def path(self) -> str:
        """The tile's path below the log's prefix: ``tile/<L>/<N>[.p/<W>]``."""
        suffix = f".p/{self.width}" if self.partial else ""
        return f"tile/{self.level}/{encode_index(self.index)}{suffix}"


def encode_index(index: int) -> str:
    """A tile index as the specification writes it: zero-padded 3-digit path elements, all but
    the last prefixed with ``x`` (1234067 is ``x001/x234/067``, 5 is ``005``)."""
    if index < 0:
        raise ValueError(f"tile index {index} is negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_tile_path(path: str) -> Tile:
    """The tile named by ``path`` (what follows ``tile/``: ``<L>/<N>[.p/<W>]``).

    Only the one spelling the specification allows is accepted (no leading zeroes in ``L`` or
    ``W``, no leading ``x000`` element in ``N``), so that each tile has a single address.
    Raises :class:`EntryBundlesWithheld` for ``entries/...`` and :class:`TilePathMalformed`
    for anything else that is not a tile path.
    """
    parts = path.split("/")
    if parts[0] == "entries":
        raise EntryBundlesWithheld(
            "Entry bundles are not served: the audit log's entries are confidential and only "
            "their leaf hashes are public (tile/<L>/...). A developer reads the entries about "
            "its own submissions at /api/v1/audit/entries."
        )
    if not _LEVEL.fullmatch(parts[0]) or int(parts[0]) > MAX_TILE_LEVEL:
        raise TilePathMalformed(
            f"The tile level {parts[0]!r} is not a decimal from 0 to {MAX_TILE_LEVEL} without "
            "leading zeroes; a tile path is tile/<L>/<N>[.p/<W>]."
        )
    groups = parts[1:]
    width = TILE_WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _WIDTH.fullmatch(groups[-1]) or int(groups[-1]) >= TILE_WIDTH:
            raise TilePathMalformed(
                f"The partial tile width {groups[-1]!r} is not a decimal from 1 to 255 without "
                "leading zeroes."
            )
        width = int(groups[-1])
        groups = [*groups[:-2], groups[-2].removesuffix(".p")]
    return Tile(int(parts[0]), _parse_index(groups), width)


def _parse_index(groups: list[str]) -> int:
    malformed = TilePathMalformed(
        "The tile index is not written as the specification asks: 3-digit groups, all but the "
        "last starting with 'x', no leading x000 (1234067 is x001/x234/067, 5 is 005)."
    )
    if not 1 <= len(groups) <= _MAX_GROUPS:
        raise malformed
    *upper, last = groups
    if not _GROUP.fullmatch(last):
        raise malformed
    if any(not (g.startswith("x") and _GROUP.fullmatch(g[1:])) for g in upper):
        raise malformed
    if upper and upper[0] == "x000":
        raise malformed
    index = 0
    for group in upper:
        index = index * 1000 + int(group[1:])
    return index * 1000 + int(last)


def tiles_of(size: int) -> list[Tile]:
    """Every tile of the tree of ``size`` leaves, level by level: full ones, then the partial one.

    Level ``L`` has ``floor(size / 256**L)`` hashes, so ``floor(that / 256)`` full tiles and a
    partial tile of ``that mod 256`` hashes when that is not 0 (an empty tile is not a tile).
    """
    if size < 0:
        raise ValueError(f"a tree cannot have {size} leaves")
    out: list[Tile] = []
    level = 0
    while (hashes := size >> (TILE_HEIGHT * level)) > 0:
        full, rest = divmod(hashes, TILE_WIDTH)
        out.extend(Tile(level, index) for index in range(full))
        if rest:
            out.append(Tile(level, full, rest))
        level += 1
    return out


def read_tile(db: Session, tile: Tile) -> bytes:
    """The tile's bytes: its ``width`` hashes, 32 bytes each, from one range read of stored nodes.

    A node is stored in the transaction of the leaf that completes it, so finding all ``width``
    nodes proves the log has the tile; only when some are absent is the log's size read, to
    tell a tile not reached yet (:class:`TileNotFound`) from a store that lost a node
    (:class:`~prereview.audit.errors.NodeMissing`).
    """
    first = tile.first_node
    if (first + tile.width) << tile.height > _MAX_LEAVES:
        raise _not_reached(tile, log_size(db))
    rows = db.execute(
        select(AuditNode.index, AuditNode.hash)
        .where(
            AuditNode.level == tile.height,
            AuditNode.index >= first,
            AuditNode.index < first + tile.width,
        )
        .order_by(AuditNode.index)
    ).all()
    if len(rows) == tile.width:
        return b"".join(digest for _, digest in rows)
    size = log_size(db)
    if first + tile.width > size >> tile.height:
        raise _not_reached(tile, size)
    raise NodeMissing(
        f"The stored tree lacks nodes of {tile.path} (height {tile.height}, indices "
        f"{first} to {first + tile.width - 1}) although the log has {size} entries."
    )


def _not_reached(tile: Tile, size: int) -> TileNotFound:
    return TileNotFound(
        f"The audit log has {size} entries, so {size >> tile.height} hashes at tile level "
        f"{tile.level}; {tile.path} needs {tile.first_node + tile.width}.",
        # It may exist a moment later: no cache may keep this answer.
        headers={"Cache-Control": "no-store"},
    )


def checkpoint_note(
    db: Session, settings: Settings, now: datetime, publisher: WitnessPublisher | None = None
) -> str:
    """The latest signed checkpoint note, for ``<prefix>/checkpoint``.

    Signed afresh when the log has grown, at most once per :data:`CHECKPOINT_INTERVAL`
    (DESIGN rule 6: derived when asked, not scheduled). A new checkpoint goes to the
    witnesses that have not cosigned it yet (``publisher``), as on the API's checkpoint
    route, and is served with every cosignature they returned. Public: it holds a size and
    a root.
    """
    checkpoint = latest_checkpoint(
        db,
        load_signer(settings),
        settings.audit_origin,
        now,
        min_interval=CHECKPOINT_INTERVAL,
        journal=settings.audit_journal_path,
    )
    return served_note(db, checkpoint, publisher)
