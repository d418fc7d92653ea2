"""Reading the stored tree: node readers, and roots and proofs from O(log n) stored hashes.

The store keeps the hash of every perfect subtree once its last leaf arrives (see
:mod:`prereview.audit.merkle`); a root or a proof is the right fold of the few stored nodes
that cover each of its leaf ranges (:mod:`.tree`), read in one batch when the reader can.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from prereview.audit.errors import NodeMissing, TreeRangeInvalid
from prereview.audit.merkle.tree import (
    Node,
    NodeKey,
    consistency_ranges,
    fold_right,
    inclusion_ranges,
    perfect_subtrees,
)


@runtime_checkable
class NodeReader(Protocol):
    """Reads stored perfect-subtree hashes. The database layer implements this.

    ``node`` returns the hash of node ``(level, index)`` and raises
    :class:`~prereview.audit.errors.NodeMissing` (or ``KeyError``) when it is not stored.
    """

    def node(self, level: int, index: int) -> bytes: ...


@runtime_checkable
class BatchNodeReader(NodeReader, Protocol):
    """A :class:`NodeReader` that can also fetch many nodes in one round trip.

    ``nodes`` returns the stored hashes of those of ``keys`` that exist; a key absent from the
    answer is reported as :class:`~prereview.audit.errors.NodeMissing` by the caller. Proof
    generation uses it when present, so one proof costs one query.
    """

    def nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]: ...


class MemoryNodeStore:
    """A :class:`BatchNodeReader` over a dict, for tests and for small in-process trees."""

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self._nodes: dict[NodeKey, bytes] = {}
        self.put(nodes)

    def put(self, nodes: Iterable[Node]) -> None:
        """Store nodes (as returned by :meth:`TreeAppender.append`)."""
        for level, index, digest in nodes:
            self._nodes[(level, index)] = digest

    def node(self, level: int, index: int) -> bytes:
        try:
            return self._nodes[(level, index)]
        except KeyError:
            raise NodeMissing(f"Node (level {level}, index {index}) is not stored.") from None

    def nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        return {key: self._nodes[key] for key in keys if key in self._nodes}

    def __len__(self) -> int:
        return len(self._nodes)


def read_nodes(reader: NodeReader, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
    unique = list(dict.fromkeys(keys))
    found: Mapping[NodeKey, bytes]
    if isinstance(reader, BatchNodeReader):
        found = reader.nodes(unique)
    else:
        found = {}
        for key in unique:
            with contextlib.suppress(KeyError):
                found[key] = reader.node(*key)
    for key in unique:
        if key not in found:
            raise NodeMissing(
                f"Node (level {key[0]}, index {key[1]}) is not stored: the tree store "
                "is incomplete."
            )
    return found


def _hash_ranges(ranges: Sequence[tuple[int, int]], reader: NodeReader) -> list[bytes]:
    """MTH(D[a:b]) for each range, from one batch of node reads."""
    per_range = [perfect_subtrees(a, b) for a, b in ranges]
    found = read_nodes(reader, [key for keys in per_range for key in keys])
    return [fold_right([found[key] for key in keys]) for keys in per_range]


def root(size: int, reader: NodeReader) -> bytes:
    """MTH(D[0:size]), from the ``popcount(size)`` stored nodes of that size's right edge.

    Works for any size the store has reached, so the root of an old checkpoint can be
    recomputed as cheaply as the current one.
    """
    if size < 0:
        raise TreeRangeInvalid(f"A tree cannot have {size} leaves.")
    return _hash_ranges([(0, size)], reader)[0]


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """The RFC 9162 2.1.3.1 inclusion proof (audit path) of leaf ``index`` in the tree of ``size``.

    Reads O(log size) stored nodes in one batch; verify it with :func:`verify_inclusion`.
    """
    return _hash_ranges(inclusion_ranges(index, size), reader)


def consistency_proof(old_size: int, new_size: int, reader: NodeReader) -> list[bytes]:
    """The RFC 9162 2.1.4.1 consistency proof between the trees of ``old_size`` and ``new_size``.

    Empty when ``old_size`` is 0 or equal to ``new_size``. Reads O(log new_size) stored nodes
    in one batch; verify it with :func:`verify_consistency`.
    """
    return _hash_ranges(consistency_ranges(old_size, new_size), reader)
