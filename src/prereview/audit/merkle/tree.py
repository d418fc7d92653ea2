"""The shape and hashes of the audit log's Merkle tree (RFC 9162 section 2.1, SHA-256).

Pure arithmetic, no storage: the leaf and node hashes, the perfect subtrees (``(level, index)``
keys) that every range of leaves decomposes into, and the leaf ranges that make up an
inclusion or consistency proof. The store (:mod:`.store`), the appender (:mod:`.appender`) and
the verifiers (:mod:`.verification`) are all built on these; see :mod:`prereview.audit.merkle`
for the storage model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeAlias

from prereview.audit.errors import TreeRangeInvalid

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
