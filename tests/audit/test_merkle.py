"""The audit Merkle tree against RFC 9162 and the transparency-dev/merkle test vectors.

Expected values come from two independent places: the published vectors of the 8-leaf
reference tree (transparency-dev/merkle, proof/verify_test.go; written for RFC 6962, whose tree
hashing RFC 9162 keeps unchanged), and a reference implementation below that transcribes
RFC 9162's recursive definitions of MTH, PATH and PROOF (sections 2.1.1, 2.1.3.1 and 2.1.4.1)
literally.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prereview.audit import merkle
from prereview.audit.errors import (
    AuditError,
    LogMismatch,
    NodeMissing,
    ProofInvalid,
    TreeRangeInvalid,
)
from prereview.audit.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    TreeAppender,
    checked_leaf_hashes,
    complete_nodes,
    consistency_proof,
    first_bad_entry,
    inclusion_proof,
    leaf_hash,
    perfect_subtrees,
    right_edge_keys,
    root,
    verify_consistency,
    verify_inclusion,
    verify_log,
)
from prereview.core.errors import PrereviewError

# --- RFC 9162 section 2.1, transcribed --------------------------------------------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1), by counting, not by bit tricks."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + d[0])
    k = _k(n)
    return _h(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:n]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:n])]
    return [*ref_path(m - k, d[k:n]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:n])]
    return [*ref_subproof(m - k, d[k:n], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


# --- Published vectors (transparency-dev/merkle proof/verify_test.go) ---------------------------

LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]

# ROOTS[i] is the root of the tree of the first i + 1 leaves.
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

EMPTY_TREE_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# (0-based leaf index, tree size, audit path)
INCLUSION_VECTORS = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]

# (old size, new size, consistency proof)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def build(entries: Sequence[bytes]) -> tuple[MemoryNodeStore, TreeAppender]:
    store = MemoryNodeStore()
    appender = TreeAppender()
    for entry in entries:
        store.put(appender.append(leaf_hash(entry)))
    return store, appender


@pytest.fixture(scope="module")
def reference_tree() -> MemoryNodeStore:
    return build(LEAVES)[0]


def _hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


# --- The published vectors ------------------------------------------------------------------


def test_hash_primitives() -> None:
    assert EMPTY_ROOT.hex() == EMPTY_TREE_HASH
    assert leaf_hash(b"") == _h(b"\x00")
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == _h(b"\x01" + b"a" * 32 + b"b" * 32)


def test_roots_of_the_reference_tree(reference_tree: MemoryNodeStore) -> None:
    appender = TreeAppender()
    assert appender.root().hex() == EMPTY_TREE_HASH
    assert root(0, reference_tree).hex() == EMPTY_TREE_HASH
    for size in range(1, 9):
        appender.append(leaf_hash(LEAVES[size - 1]))
        assert appender.root().hex() == ROOTS[size - 1]
        assert root(size, reference_tree).hex() == ROOTS[size - 1]
        assert ref_mth(LEAVES[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION_VECTORS)
def test_inclusion_vectors(
    reference_tree: MemoryNodeStore, index: int, size: int, path: list[str]
) -> None:
    assert _hexes(inclusion_proof(index, size, reference_tree)) == path
    assert _hexes(ref_path(index, LEAVES[:size])) == path
    proof = [bytes.fromhex(p) for p in path]
    verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY_VECTORS)
def test_consistency_vectors(
    reference_tree: MemoryNodeStore, old: int, new: int, path: list[str]
) -> None:
    assert _hexes(consistency_proof(old, new, reference_tree)) == path
    assert _hexes(ref_proof(old, LEAVES[:new])) == path
    proof = [bytes.fromhex(p) for p in path]
    verify_consistency(
        old, new, bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1]), proof
    )


def _flip(proof: list[bytes], i: int, mask: int) -> list[bytes]:
    out = list(proof)
    out[i] = bytes([out[i][0] ^ mask]) + out[i][1:]
    return out


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION_VECTORS[:4])
def test_corrupted_inclusion_proofs_fail(index: int, size: int, path: list[str]) -> None:
    """The probes of transparency-dev's corruptInclusionProof: each must be rejected."""
    proof = [bytes.fromhex(p) for p in path]
    good_root = bytes.fromhex(ROOTS[size - 1])
    leaf = leaf_hash(LEAVES[index])
    probes = [
        (index - 1, size, good_root, leaf, proof),
        (index + 1, size, good_root, leaf, proof),
        (index ^ 2, size, good_root, leaf, proof),
        (index, size * 2, good_root, leaf, proof),
        (index, size // 2, good_root, leaf, proof),
        (index, size, good_root, b"WrongLeaf", proof),
        (index, size, good_root, leaf_hash(b"WrongLeaf"), proof),
        (index, size, EMPTY_ROOT, leaf, proof),
        (index, size, SOME_HASH, leaf, proof),
        (index, size, good_root, leaf, [*proof, b""]),
        (index, size, good_root, leaf, [*proof, good_root]),
        (index, size, good_root, leaf, [b"", *proof]),
        (index, size, good_root, leaf, [good_root, *proof]),
        (index, size, good_root, leaf, proof[:-1]),
        (index, size, good_root, leaf, [proof[0], SOME_HASH, *proof[1:]]),
    ]
    probes += [(index, size, good_root, leaf, _flip(proof, i, 8)) for i in range(len(proof))]
    for probe_index, probe_size, probe_root, probe_leaf, probe_proof in probes:
        with pytest.raises(ProofInvalid):
            verify_inclusion(probe_leaf, probe_index, probe_size, probe_proof, probe_root)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY_VECTORS[1:])
def test_corrupted_consistency_proofs_fail(old: int, new: int, path: list[str]) -> None:
    """The probes of transparency-dev's corruptConsistencyProof: each must be rejected."""
    proof = [bytes.fromhex(p) for p in path]
    root1, root2 = bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1])
    probes = [
        (old - 1, new, root1, root2, proof),
        (old + 1, new, root1, root2, proof),
        (old ^ 2, new, root1, root2, proof),
        (old, new * 2, root1, root2, proof),
        (old, new // 2, root1, root2, proof),
        (old, new, b"WrongRoot", root2, proof),
        (old, new, SOME_HASH, root2, proof),
        (old, new, root1, SOME_HASH, proof),
        (old, new, root2, root1, proof),
        (old, new, root1, root2, []),
        (old, new, root1, root2, [*proof, b""]),
        (old, new, root1, root2, [*proof, root1]),
        (old, new, root1, root2, [*proof, root2]),
        (old, new, root1, root2, [b"", *proof]),
        (old, new, root1, root2, [root1, *proof]),
        (old, new, root1, root2, [root2, *proof]),
        (old, new, root1, root2, [proof[0], *proof]),
        (old, new, root1, root2, proof[:-1]),
    ]
    probes += [(old, new, root1, root2, _flip(proof, i, 16)) for i in range(len(proof))]
    for size1, size2, r1, r2, probe_proof in probes:
        with pytest.raises(ProofInvalid):
            verify_consistency(size1, size2, r1, r2, probe_proof)


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "ok"),
    [
        # Sizes that are always consistent, given the right roots and an empty proof.
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 1, EMPTY_ROOT, SOME_HASH, [], True),
        (1, 1, SOME_HASH, SOME_HASH, [], True),
        # Equal sizes, different roots.
        (0, 0, EMPTY_ROOT, SOME_HASH, [], False),
        (1, 1, EMPTY_ROOT, SOME_HASH, [], False),
        # Time travel to the past.
        (1, 0, SOME_HASH, EMPTY_ROOT, [], False),
        (2, 1, SOME_HASH, SOME_HASH, [], False),
        # Empty proof between different sizes.
        (1, 2, SOME_HASH, EMPTY_ROOT, [], False),
        # Roots match but the proof is not empty.
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, SOME_HASH, [EMPTY_ROOT], False),
        (1, 1, SOME_HASH, SOME_HASH, [EMPTY_ROOT], False),
        # Stricter than transparency-dev: size 0 must state the empty tree's root.
        (0, 1, SOME_HASH, SOME_HASH, [], False),
    ],
)
def test_consistency_edge_cases(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes], ok: bool
) -> None:
    if ok:
        verify_consistency(old, new, old_root, new_root, proof)
    else:
        with pytest.raises(ProofInvalid):
            verify_consistency(old, new, old_root, new_root, proof)


@pytest.mark.parametrize(
    ("leaf", "index", "size", "proof", "expected"),
    [
        (SOME_HASH, 0, 0, [], EMPTY_ROOT),
        (SOME_HASH, 1, 0, [], EMPTY_ROOT),
        (SOME_HASH, 2, 1, [], SOME_HASH),
        (SOME_HASH, -1, 1, [], SOME_HASH),
        (SOME_HASH, 0, 1, [], EMPTY_ROOT),
        (b"", 0, 1, [], b""),
        (SOME_HASH, 0, 1, [], b""),
        (b"", 0, 1, [], SOME_HASH),
    ],
)
def test_inclusion_edge_cases(
    leaf: bytes, index: int, size: int, proof: list[bytes], expected: bytes
) -> None:
    with pytest.raises(ProofInvalid):
        verify_inclusion(leaf, index, size, proof, expected)


def test_single_leaf_tree_needs_no_proof() -> None:
    digest = leaf_hash(b"data")
    verify_inclusion(digest, 0, 1, [], digest)


def test_proof_errors_explain_themselves() -> None:
    proof = [bytes.fromhex(p) for p in INCLUSION_VECTORS[0][2]]
    with pytest.raises(ProofInvalid) as excinfo:
        verify_inclusion(leaf_hash(LEAVES[0]), 0, 8, proof[:-1], bytes.fromhex(ROOTS[7]))
    assert "has 2 hashes; it should have 3" in excinfo.value.detail
    with pytest.raises(ProofInvalid) as excinfo:
        verify_inclusion(leaf_hash(LEAVES[1]), 0, 8, proof, bytes.fromhex(ROOTS[7]))
    assert ROOTS[7] in excinfo.value.detail
    error = excinfo.value
    assert isinstance(error, PrereviewError)
    assert isinstance(error, AuditError)
    assert error.status == 422
    assert error.problem()["type"] == "urn:prereview:problem:audit-proof-invalid"


# --- The efficient implementation against the RFC's definitions ------------------------------

SMALL = 33


@pytest.fixture(scope="module")
def small_entries() -> list[bytes]:
    return [f"entry {i}".encode() for i in range(SMALL)]


@pytest.fixture(scope="module")
def small_tree(small_entries: list[bytes]) -> MemoryNodeStore:
    return build(small_entries)[0]


def test_every_inclusion_proof_of_small_trees(
    small_entries: list[bytes], small_tree: MemoryNodeStore
) -> None:
    for size in range(1, SMALL + 1):
        tree_root = root(size, small_tree)
        assert tree_root == ref_mth(small_entries[:size])
        for index in range(size):
            proof = inclusion_proof(index, size, small_tree)
            assert proof == ref_path(index, small_entries[:size]), (index, size)
            digest = leaf_hash(small_entries[index])
            verify_inclusion(digest, index, size, proof, tree_root)
            for i in range(len(proof)):
                with pytest.raises(ProofInvalid):
                    verify_inclusion(digest, index, size, _flip(proof, i, 1), tree_root)
            with pytest.raises(ProofInvalid):
                verify_inclusion(digest, index, size, [*proof, tree_root], tree_root)
            if proof:
                with pytest.raises(ProofInvalid):
                    verify_inclusion(digest, index, size, proof[:-1], tree_root)


def test_every_consistency_proof_of_small_trees(
    small_entries: list[bytes], small_tree: MemoryNodeStore
) -> None:
    roots = [root(size, small_tree) for size in range(SMALL + 1)]
    for new in range(0, SMALL + 1):
        for old in range(0, new + 1):
            proof = consistency_proof(old, new, small_tree)
            expected = [] if old == 0 else ref_proof(old, small_entries[:new])
            assert proof == expected, (old, new)
            verify_consistency(old, new, roots[old], roots[new], proof)
            for i in range(len(proof)):
                with pytest.raises(ProofInvalid):
                    verify_consistency(old, new, roots[old], roots[new], _flip(proof, i, 1))
            if 0 < old < new:
                with pytest.raises(ProofInvalid):
                    verify_consistency(old, new, roots[old], roots[new], proof[:-1])
                with pytest.raises(ProofInvalid):
                    verify_consistency(old, new, roots[old], roots[new], [*proof, roots[new]])
                with pytest.raises(ProofInvalid):
                    verify_consistency(old, new, roots[new], roots[old], proof)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 300),
    salt=st.binary(max_size=8),
    data=st.data(),
)
def test_random_trees_match_the_rfc(n: int, salt: bytes, data: st.DataObject) -> None:
    entries = [salt + i.to_bytes(2, "big") for i in range(n)]
    entries[data.draw(st.integers(0, n - 1), label="empty")] = b""
    store, appender = build(entries)
    size = data.draw(st.integers(1, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(0, size), label="old")

    assert appender.root() == ref_mth(entries)
    tree_root = root(size, store)
    assert tree_root == ref_mth(entries[:size])

    proof = inclusion_proof(index, size, store)
    assert proof == ref_path(index, entries[:size])
    verify_inclusion(leaf_hash(entries[index]), index, size, proof, tree_root)

    cproof = consistency_proof(old, size, store)
    assert cproof == ([] if old == 0 else ref_proof(old, entries[:size]))
    verify_consistency(old, size, root(old, store), tree_root, cproof)


# --- Storage: the appender, the node store, O(log n) reads ------------------------------------


def test_appender_stores_each_perfect_subtree_once(small_entries: list[bytes]) -> None:
    appender = TreeAppender()
    seen: dict[tuple[int, int], bytes] = {}
    for i, entry in enumerate(small_entries):
        edge_before = appender.right_edge
        nodes = appender.append(leaf_hash(entry))
        assert nodes == complete_nodes(i, leaf_hash(entry), edge_before)
        assert nodes[0] == (0, i, leaf_hash(entry))
        for level, index, digest in nodes:
            assert (level, index) not in seen
            seen[(level, index)] = digest
            lo, hi = index << level, (index + 1) << level
            assert hi == i + 1  # a node is completed by its last leaf
            assert digest == ref_mth(small_entries[lo:hi])
        size = i + 1
        assert len(seen) == 2 * size - size.bit_count()
        assert appender.right_edge == tuple(seen[key] for key in right_edge_keys(size))
        assert merkle.fold_right(appender.right_edge) == ref_mth(small_entries[:size])


def test_appender_resumes_from_store_and_from_packed_edge(small_entries: list[bytes]) -> None:
    store, full = build(small_entries)
    for size in range(SMALL):
        half = build(small_entries[:size])[1]
        for resumed in (
            TreeAppender.from_reader(size, store),
            TreeAppender.from_packed(size, half.packed_right_edge),
        ):
            assert resumed.size == size
            assert resumed.root() == ref_mth(small_entries[:size])
            resumed.extend(leaf_hash(e) for e in small_entries[size:])
            assert resumed.root() == full.root()


def test_appender_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="right edge"):
        TreeAppender(3, [SOME_HASH])
    with pytest.raises(ValueError, match="32 bytes"):
        TreeAppender().append(b"short")
    with pytest.raises(ValueError, match="right edge"):
        complete_nodes(3, SOME_HASH, [SOME_HASH])
    with pytest.raises(ValueError, match="bytes"):
        TreeAppender.from_packed(3, SOME_HASH)


def test_perfect_subtrees() -> None:
    assert perfect_subtrees(0, 0) == []
    assert perfect_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert right_edge_keys(13) == [(3, 0), (2, 2), (0, 12)]
    assert perfect_subtrees(8, 13) == [(2, 2), (0, 12)]
    assert perfect_subtrees(4, 8) == [(2, 1)]
    with pytest.raises(ValueError, match="aligned"):
        perfect_subtrees(2, 8)


class CountingReader:
    """A NodeReader without the batch method, recording what was read."""

    def __init__(self, store: MemoryNodeStore) -> None:
        self.store = store
        self.reads: list[tuple[int, int]] = []

    def node(self, level: int, index: int) -> bytes:
        self.reads.append((level, index))
        return self.store.node(level, index)


class CountingBatchReader(CountingReader):
    def __init__(self, store: MemoryNodeStore) -> None:
        super().__init__(store)
        self.batches = 0

    def nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        self.batches += 1
        self.reads.extend(keys)
        return self.store.nodes(keys)


def test_proofs_read_logarithmically_many_nodes() -> None:
    size = 1000
    store = build([i.to_bytes(4, "big") for i in range(size)])[0]
    bound = 2 * size.bit_length()
    for index in (0, 1, 511, 512, 777, 998, 999):
        plain, batch = CountingReader(store), CountingBatchReader(store)
        assert inclusion_proof(index, size, plain) == inclusion_proof(index, size, batch)
        assert len(plain.reads) <= bound
        assert batch.batches == 1
    for old in (1, 2, 3, 500, 512, 513, 999):
        plain, batch = CountingReader(store), CountingBatchReader(store)
        assert consistency_proof(old, size, plain) == consistency_proof(old, size, batch)
        assert len(plain.reads) <= bound
        assert batch.batches == 1
    reader = CountingReader(store)
    root(size, reader)
    assert len(reader.reads) == size.bit_count()


def test_missing_node_is_reported() -> None:
    store = build([b"a", b"b", b"c"])[0]
    with pytest.raises(NodeMissing, match=r"level 2, index 0"):
        root(4, store)
    with pytest.raises(NodeMissing):
        inclusion_proof(0, 4, CountingReader(store))
    with pytest.raises(NodeMissing):
        TreeAppender.from_reader(4, store)


def test_impossible_ranges_are_rejected() -> None:
    store = build([b"a", b"b", b"c"])[0]
    with pytest.raises(TreeRangeInvalid):
        inclusion_proof(3, 3, store)
    with pytest.raises(TreeRangeInvalid):
        inclusion_proof(-1, 3, store)
    with pytest.raises(TreeRangeInvalid):
        consistency_proof(3, 2, store)
    with pytest.raises(TreeRangeInvalid):
        root(-1, store)


# --- Verifying a whole log --------------------------------------------------------------------


def test_verify_log_accepts_the_log_and_names_missing_or_extra_leaves() -> None:
    entries = [f"e{i}".encode() for i in range(100)]
    hashes = [leaf_hash(e) for e in entries]
    good = ref_mth(entries)
    verify_log(iter(hashes), 100, good)
    verify_log([], 0, EMPTY_ROOT)

    with pytest.raises(LogMismatch) as excinfo:
        verify_log(hashes[:97], 100, good)
    assert excinfo.value.extra["position"] == 97
    assert "ends after 97 leaves" in excinfo.value.detail

    with pytest.raises(LogMismatch) as excinfo:
        verify_log([*hashes, SOME_HASH], 100, good)
    assert excinfo.value.extra["position"] == 100

    with pytest.raises(LogMismatch) as excinfo:
        verify_log([*hashes[:5], b"short", *hashes[6:]], 100, good)
    assert excinfo.value.extra["position"] == 5

    tampered = list(hashes)
    tampered[42] = leaf_hash(b"forged")
    with pytest.raises(LogMismatch, match=good.hex()):
        verify_log(tampered, 100, good)


def test_first_bad_entry_and_single_pass_check() -> None:
    entries = [f"e{i}".encode() for i in range(50)]
    hashes = [leaf_hash(e) for e in entries]
    assert first_bad_entry(zip(entries, hashes, strict=True)) is None
    altered = list(entries)
    altered[17] = b"rewritten"
    altered[30] = b"rewritten too"
    assert first_bad_entry(zip(altered, hashes, strict=True)) == 17

    verify_log(checked_leaf_hashes(zip(entries, hashes, strict=True)), 50, ref_mth(entries))
    with pytest.raises(LogMismatch) as excinfo:
        verify_log(checked_leaf_hashes(zip(altered, hashes, strict=True)), 50, ref_mth(entries))
    assert excinfo.value.extra["position"] == 17
    assert "Entry 17" in excinfo.value.detail
    assert excinfo.value.status == 409
