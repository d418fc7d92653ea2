"""Appending to the tree: the nodes each new leaf completes, from the tree's right edge.

The right edge (a compact range) is the hashes of the maximal perfect subtrees of
``[0, size)``, one per set bit of ``size``, largest first; it is all that appending needs, so
the log head stores it packed and no append reads more than it (amortised one hash and two
node writes per leaf).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from prereview.audit.merkle.store import NodeReader, read_nodes
from prereview.audit.merkle.tree import HASH_SIZE, Node, fold_right, node_hash, right_edge_keys

_sha256 = hashlib.sha256


def complete_nodes(leaf_index: int, leaf: bytes, right_edge: Sequence[bytes]) -> list[Node]:
    """The nodes that appending leaf hash ``leaf`` at ``leaf_index`` completes, lowest first.

    ``right_edge`` is the right edge of the tree of ``leaf_index`` leaves (one hash per set
    bit of ``leaf_index``, largest subtree first). The answer always starts with the leaf
    itself ``(0, leaf_index)``; then each trailing 1-bit of ``leaf_index`` closes one more
    perfect subtree. The new right edge is ``right_edge[:len(right_edge) - len(answer) + 1]``
    followed by the last node's hash.
    """
    if len(right_edge) != leaf_index.bit_count():
        raise ValueError(
            f"a tree of {leaf_index} leaves has a right edge of {leaf_index.bit_count()} "
            f"hashes, not {len(right_edge)}"
        )
    out = [(0, leaf_index, leaf)]
    digest, level, index, pos = leaf, 0, leaf_index, len(right_edge)
    while index & 1:
        pos -= 1
        digest = node_hash(right_edge[pos], digest)
        index >>= 1
        level += 1
        out.append((level, index, digest))
    return out


class TreeAppender:
    """Appends leaf hashes to the tree, keeping only its right edge (O(log n) memory).

    Each :meth:`append` returns the perfect-subtree nodes it completes; the caller stores them
    (in the same transaction as the entry). Amortised cost per leaf: one node hash and two
    node writes. :meth:`root` gives the current tree head in O(log n).
    """

    __slots__ = ("_edge", "_size")

    def __init__(self, size: int = 0, right_edge: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise ValueError(f"a tree cannot have {size} leaves")
        if len(right_edge) != size.bit_count():
            raise ValueError(
                f"a tree of {size} leaves has a right edge of {size.bit_count()} hashes, "
                f"not {len(right_edge)}"
            )
        if any(len(digest) != HASH_SIZE for digest in right_edge):
            raise ValueError("right edge hashes must be 32 bytes")
        self._size = size
        self._edge = list(right_edge)

    @classmethod
    def from_reader(cls, size: int, reader: NodeReader) -> TreeAppender:
        """Resume a stored tree of ``size`` leaves, reading its ``popcount(size)`` edge nodes."""
        keys = right_edge_keys(size)
        found = read_nodes(reader, keys)
        return cls(size, [found[key] for key in keys])

    @classmethod
    def from_packed(cls, size: int, packed_right_edge: bytes) -> TreeAppender:
        """Resume from :attr:`packed_right_edge` as stored, e.g., in a log-head row."""
        if len(packed_right_edge) != HASH_SIZE * size.bit_count():
            raise ValueError(
                f"a tree of {size} leaves has a right edge of {HASH_SIZE * size.bit_count()} "
                f"bytes, not {len(packed_right_edge)}"
            )
        edge = [
            packed_right_edge[i : i + HASH_SIZE]
            for i in range(0, len(packed_right_edge), HASH_SIZE)
        ]
        return cls(size, edge)

    @property
    def packed_right_edge(self) -> bytes:
        """The right edge as one byte string (32 bytes per hash, largest subtree first)."""
        return b"".join(self._edge)

    @property
    def size(self) -> int:
        """Leaves appended so far."""
        return self._size

    @property
    def right_edge(self) -> tuple[bytes, ...]:
        """Hashes of the maximal perfect subtrees, largest first (see :func:`right_edge_keys`)."""
        return tuple(self._edge)

    def append(self, leaf: bytes) -> list[Node]:
        """Append one leaf hash; return the nodes it completes (the leaf first)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is 32 bytes, not {len(leaf)}")
        edge = self._edge
        index = self._size
        out = [(0, index, leaf)]
        digest, level = leaf, 0
        while index & 1:
            digest = _sha256(b"\x01" + edge.pop() + digest).digest()
            index >>= 1
            level += 1
            out.append((level, index, digest))
        edge.append(digest)
        self._size += 1
        return out

    def extend(self, leaves: Iterable[bytes]) -> list[Node]:
        """Append many leaf hashes; return every node completed, in order of completion."""
        out: list[Node] = []
        for leaf in leaves:
            out.extend(self.append(leaf))
        return out

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        return fold_right(self._edge)
