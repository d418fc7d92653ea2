"""Checking what the log publishes: proofs by the RFC's algorithms, and a whole log's leaves.

Inclusion and consistency proofs are verified by RFC 9162 sections 2.1.3.2 and 2.1.4.2, step
by step, so that a client (``prereview audit proof``, the trust-on-first-use store) needs
nothing but the hashes it was given; a whole log is re-folded leaf by leaf against a
checkpoint. Every failure raises :class:`~prereview.audit.errors.ProofInvalid` or
:class:`~prereview.audit.errors.LogMismatch` saying what did not hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence

from prereview.audit.errors import LogMismatch, ProofInvalid
from prereview.audit.merkle.tree import (
    EMPTY_ROOT,
    HASH_SIZE,
    consistency_ranges,
    fold_right,
    inclusion_ranges,
    leaf_hash,
    node_hash,
)

_sha256 = hashlib.sha256


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
