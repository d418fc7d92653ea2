"""The audit log's Merkle tree: RFC 9162 (Certificate Transparency v2) section 2.1, SHA-256.

Hashes are the RFC's: a leaf is ``SHA-256(0x00 || entry)``, an interior node
``SHA-256(0x01 || left || right)``, and the root of the empty tree ``SHA-256()``.

Storage model. The log holds millions of leaves, so nothing here ever rehashes them all.
Instead the store keeps the hash of every *perfect* subtree, that is every complete,
power-of-two-aligned block of leaves: node ``(level, index)`` covers leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Such a node is
written once, when its last leaf arrives, and never changes, so the node table is append-only.
Any range ``[a, b)`` that the RFC's recursive definitions ask about decomposes into at most
``log2(b - a) + 1`` of these nodes (:func:`perfect_subtrees`), which is how :func:`root`,
:func:`inclusion_proof` and :func:`consistency_proof` read O(log n) hashes each.

Appending uses the tree's *right edge* (a compact range): the hashes of the maximal perfect
subtrees of ``[0, size)``, one per set bit of ``size``, largest first. :class:`TreeAppender`
keeps it, returns the nodes each append completes (amortised one hash and two writes per leaf)
and computes the root from it in O(log n).

Verification follows the RFC's algorithms word for word (2.1.3.2 and 2.1.4.2) and raises
:class:`~prereview.audit.errors.ProofInvalid` saying what did not hold.

Hand-written: pymerkle, the maintained Python Merkle library, recomputes subtree roots from the
leaves (with a cache) instead of reading stored nodes, which does not scale to a database log.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol, TypeAlias, runtime_checkable

from prereview.audit.errors import LogMismatch, NodeMissing, ProofInvalid, TreeRangeInvalid

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256(): the root of the tree with no leaves."""

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """The RFC 9162 leaf hash of one log entry: ``SHA-256(0x00 || entry)``."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 9162 hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


NodeKey: TypeAlias = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves ``[index * 2**level, (index+1) * 2**level)``.
"""


Node: TypeAlias = tuple[int, int, bytes]
"""A perfect subtree as the store keeps it: ``(level, index, hash)``.

A plain tuple rather than a named one: appending a million leaves makes two million of them.
"""


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


# --- Ranges and perfect subtrees -------------------------------------------------------------


def perfect_subtrees(begin: int, end: int) -> list[NodeKey]:
    """The stored nodes whose right fold is MTH(D[begin:end]), largest (leftmost) first.

    Works for every range the RFC's recursion produces: ``[0, n)`` and any ``[a, b)`` where
    ``a`` is a multiple of a power of two no smaller than ``b - a``. Taking the largest power of
    two that fits at each step mirrors the RFC's split at "the largest power of two smaller
    than n", so the fold ``H(k0, H(k1, ... H(k_{m-1}, k_m)))`` equals the RFC's MTH.

    Raises ``ValueError`` for a range whose blocks would not be aligned (no stored node covers
    them); proofs never ask for one.
    """
    if not 0 <= begin <= end:
        raise ValueError(f"not a leaf range: [{begin}, {end})")
    keys: list[NodeKey] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin & ((1 << level) - 1):
            raise ValueError(f"[{begin}, {end}) does not split into aligned perfect subtrees")
        keys.append((level, begin >> level))
        begin += 1 << level
    return keys


def right_edge_keys(size: int) -> list[NodeKey]:
    """The maximal perfect subtrees of a tree of ``size`` leaves (its compact range), left first.

    There is one per set bit of ``size``; loading their hashes is all that
    :meth:`TreeAppender.from_reader` needs to go on appending.
    """
    return perfect_subtrees(0, size)


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect-subtree hashes (largest first) into the MTH of the range they cover.

    Given a right edge, this is the tree head, in ``len(right_edge) - 1`` hashes (O(log n)).
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for i in range(len(hashes) - 2, -1, -1):
        acc = node_hash(hashes[i], acc)
    return acc


def _read_nodes(reader: NodeReader, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
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
    found = _read_nodes(reader, [key for keys in per_range for key in keys])
    return [fold_right([found[key] for key in keys]) for keys in per_range]


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make PATH(index, D[0:size]), in proof order (leaf upwards).

    The RFC's recursion, unrolled: descend from ``[0, size)`` towards the leaf, noting the
    sibling range at each split; the proof lists them from the bottom.
    """
    if not 0 <= index < size:
        raise TreeRangeInvalid(f"Leaf index {index} is not in a tree of size {size}.")
    siblings: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    siblings.reverse()
    return siblings


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make PROOF(old_size, D[0:new_size]), in proof order.

    SUBPROOF(m, D[lo:hi], b) unrolled: split at k; go left (and note the right sibling) while
    ``m <= k``, else go right (note the left sibling, and the flag b becomes false). At
    ``m == hi - lo`` the subproof is empty if b is still true, else it is MTH(D[lo:hi]).
    """
    if not 0 <= old_size <= new_size:
        raise TreeRangeInvalid(
            f"No consistency proof from size {old_size} to size {new_size}: a log only grows."
        )
    if old_size in (0, new_size):
        return []
    siblings: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, new_size, old_size, True
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
            m -= k
            whole = False
    siblings.reverse()
    return siblings if whole else [(lo, hi), *siblings]


# --- Reading the tree -------------------------------------------------------------------------


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


# --- Appending --------------------------------------------------------------------------------


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
        found = _read_nodes(reader, keys)
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


# --- Verifying proofs (RFC 9162 2.1.3.2 and 2.1.4.2) ------------------------------------------


def _require_hash_size(digest: bytes, what: str) -> None:
    if len(digest) != HASH_SIZE:
        raise ProofInvalid(f"The {what} is {len(digest)} bytes long; SHA-256 hashes are 32.")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` leaves whose
    root is ``expected_root``, by RFC 9162 section 2.1.3.2. Raises ``ProofInvalid`` if not.
    """
    _require_hash_size(leaf, "leaf hash")
    _require_hash_size(expected_root, "expected root")
    for i, p in enumerate(proof):
        _require_hash_size(p, f"proof hash {i}")
    if index < 0 or size < 0:
        raise ProofInvalid(f"Leaf index {index} and tree size {size} must not be negative.")
    if index >= size:  # step 1
        raise ProofInvalid(f"Leaf index {index} is not in a tree of size {size}.")
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in proof:  # step 4
        if sn == 0:  # 4a
            raise _inclusion_length_error(index, size, len(proof))
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            while fn != 0 and not fn & 1:  # 4b ii: only when fn == sn and LSB(fn) is 0
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    if sn != 0:  # step 5
        raise _inclusion_length_error(index, size, len(proof))
    if r != expected_root:
        raise ProofInvalid(
            f"The inclusion proof for leaf {index} leads to root {r.hex()}, not to the "
            f"expected root {expected_root.hex()} of the tree of size {size}."
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` with root ``new_root`` extends the tree of
    ``old_size`` with root ``old_root``, by RFC 9162 section 2.1.4.2. Raises ``ProofInvalid``.

    The cases the RFC leaves out are decided strictly: equal sizes need equal roots and an
    empty proof; an old size of 0 needs the empty tree's root (SHA-256 of nothing) and an
    empty proof.
    """
    _require_hash_size(old_root, "old root")
    _require_hash_size(new_root, "new root")
    for i, p in enumerate(proof):
        _require_hash_size(p, f"proof hash {i}")
    if old_size < 0 or new_size < old_size:
        raise ProofInvalid(
            f"A log cannot go from size {old_size} to size {new_size}: it only grows."
        )
    if old_size == new_size:
        if proof:
            raise ProofInvalid(
                f"Trees of the same size ({old_size}) need an empty consistency proof; "
                f"this one has {len(proof)} hashes."
            )
        if old_root != new_root:
            raise ProofInvalid(
                f"Two trees of size {old_size} have different roots: {old_root.hex()} and "
                f"{new_root.hex()}."
            )
        return
    if old_size == 0:
        if proof:
            raise ProofInvalid(
                f"The empty tree is consistent with every tree without proof; this proof has "
                f"{len(proof)} hashes."
            )
        if old_root != EMPTY_ROOT:
            raise ProofInvalid(
                f"The root of the empty tree is {EMPTY_ROOT.hex()}, not {old_root.hex()}."
            )
        return
    if not proof:  # step 1
        raise ProofInvalid(
            f"The consistency proof from size {old_size} to size {new_size} is empty; it "
            f"should have {len(consistency_ranges(old_size, new_size))} hashes."
        )
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            raise _consistency_length_error(old_size, new_size, len(proof))
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn != 0 and not fn & 1:  # 6b ii: only when fn == sn and LSB(fn) is 0
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    if sn != 0:  # step 7
        raise _consistency_length_error(old_size, new_size, len(proof))
    if fr != old_root:
        raise ProofInvalid(
            f"The consistency proof from size {old_size} to {new_size} leads to old root "
            f"{fr.hex()}, not to the expected {old_root.hex()}."
        )
    if sr != new_root:
        raise ProofInvalid(
            f"The consistency proof from size {old_size} to {new_size} leads to new root "
            f"{sr.hex()}, not to the expected {new_root.hex()}."
        )


def _inclusion_length_error(index: int, size: int, got: int) -> ProofInvalid:
    want = len(inclusion_ranges(index, size))
    return ProofInvalid(
        f"The inclusion proof for leaf {index} in a tree of size {size} has {got} hashes; "
        f"it should have {want}."
    )


def _consistency_length_error(old_size: int, new_size: int, got: int) -> ProofInvalid:
    want = len(consistency_ranges(old_size, new_size))
    return ProofInvalid(
        f"The consistency proof from size {old_size} to size {new_size} has {got} hashes; "
        f"it should have {want}."
    )


# --- Verifying a whole log --------------------------------------------------------------------


def verify_log(leaf_hashes: Iterable[bytes], expected_size: int, expected_root: bytes) -> None:
    """Recompute the root from every leaf hash, in order, and compare it with a checkpoint.

    O(n) hashes, O(log n) memory: the stream is folded through its right edge and never held.
    Raises :class:`~prereview.audit.errors.LogMismatch` when the stream holds fewer or more
    than ``expected_size`` leaves (naming the first position that is missing or extra), when a
    leaf hash is not 32 bytes (naming it), or when the recomputed root differs.
    """
    edge: list[bytes] = []
    n = 0
    for digest in leaf_hashes:
        if n == expected_size:
            raise LogMismatch(
                f"The log has more leaves than the {expected_size} its checkpoint covers; "
                f"leaf {n} is the first extra one.",
                position=n,
            )
        if len(digest) != HASH_SIZE:
            raise LogMismatch(
                f"Stored leaf hash {n} is {len(digest)} bytes long, not 32.", position=n
            )
        index = n
        while index & 1:
            digest = _sha256(b"\x01" + edge.pop() + digest).digest()
            index >>= 1
        edge.append(digest)
        n += 1
    if n < expected_size:
        raise LogMismatch(
            f"The log ends after {n} leaves, but its checkpoint covers {expected_size}; "
            f"leaf {n} is the first missing one.",
            position=n,
        )
    got = fold_right(edge)
    if got != expected_root:
        raise LogMismatch(
            f"The {n} stored leaf hashes give root {got.hex()}, but the checkpoint says "
            f"{expected_root.hex()}: a leaf hash was changed, added or removed."
        )


def first_bad_entry(entries_with_hashes: Iterable[tuple[bytes, bytes]]) -> int | None:
    """The position of the first ``(entry, stored leaf hash)`` pair that does not match.

    Pairs are taken in log order; the answer is the 0-based index of the first pair whose
    stored hash is not :func:`leaf_hash` of its entry, or ``None`` if all match.
    """
    for position, (entry, stored) in enumerate(entries_with_hashes):
        if leaf_hash(entry) != stored:
            return position
    return None


def checked_leaf_hashes(entries_with_hashes: Iterable[tuple[bytes, bytes]]) -> Iterator[bytes]:
    """Yield each stored leaf hash after checking it against its entry.

    Composes with :func:`verify_log` so that ``prereview audit verify`` reads the log once:
    ``verify_log(checked_leaf_hashes(rows), size, root)``. Raises
    :class:`~prereview.audit.errors.LogMismatch` naming the first entry whose recomputed leaf
    hash differs from the stored one.
    """
    for position, (entry, stored) in enumerate(entries_with_hashes):
        if leaf_hash(entry) != stored:
            raise LogMismatch(
                f"Entry {position} does not match its stored leaf hash: the entry hashes to "
                f"{leaf_hash(entry).hex()}, the log stores {stored.hex()}.",
                position=position,
            )
        yield stored
