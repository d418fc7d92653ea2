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

The package is split along those seams, each module importing only the ones above it:
:mod:`.tree` (hashes, node keys, the ranges a proof is made of), :mod:`.store` (node readers;
roots and proofs from stored nodes), :mod:`.appender` (the right edge) and
:mod:`.verification` (proofs and whole logs checked). Callers import from this package.

Hand-written: pymerkle, the maintained Python Merkle library, recomputes subtree roots from the
leaves (with a cache) instead of reading stored nodes, which does not scale to a database log.
"""

from prereview.audit.merkle.appender import TreeAppender, complete_nodes
from prereview.audit.merkle.store import (
    BatchNodeReader,
    MemoryNodeStore,
    NodeReader,
    consistency_proof,
    inclusion_proof,
    read_nodes,
    root,
)
from prereview.audit.merkle.tree import (
    EMPTY_ROOT,
    HASH_SIZE,
    Node,
    NodeKey,
    consistency_ranges,
    fold_right,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    right_edge_keys,
)
from prereview.audit.merkle.verification import (
    checked_leaf_hashes,
    first_bad_entry,
    verify_consistency,
    verify_inclusion,
    verify_log,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "BatchNodeReader",
    "MemoryNodeStore",
    "Node",
    "NodeKey",
    "NodeReader",
    "TreeAppender",
    "checked_leaf_hashes",
    "complete_nodes",
    "consistency_proof",
    "consistency_ranges",
    "first_bad_entry",
    "fold_right",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "read_nodes",
    "right_edge_keys",
    "root",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]
