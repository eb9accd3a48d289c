"""The RFC 6962 Merkle tree: the Certificate Transparency reference vectors, every proof of the
small trees with tampering, the incremental log, and agreement with pymerkle on random logs."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree
from pymerkle import verify_consistency as pymerkle_verify_consistency
from pymerkle import verify_inclusion as pymerkle_verify_inclusion

from domain.merkle import (
    EMPTY_ROOT,
    MerkleLog,
    consistency_path,
    consistency_proof,
    frontier_nodes,
    inclusion_path,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_nodes_needed,
    range_root,
    root,
    verify_consistency,
    verify_inclusion,
)

pytestmark = pytest.mark.domain


def h(hexdigest: str) -> bytes:
    return bytes.fromhex(hexdigest)


def flipped(digest: bytes, at: int) -> bytes:
    changed = bytearray(digest)
    changed[at] ^= 0x08
    return bytes(changed)


# The tree of Certificate Transparency's reference tests (the Go and Python CT libraries,
# transparency-dev/merkle): its entries, and the root for each size 0..8.
DATA = [
    h(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
LEAVES = [leaf_hash(entry) for entry in DATA]
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# The reference proofs of the same tree, with 0-based leaf indexes: (index, size, path).
INCLUSION_VECTORS = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (old size, new size, path).
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

EVERY_LEAF = [(size, index) for size in range(1, 9) for index in range(size)]
EVERY_PAIR = [(old, new) for new in range(1, 9) for old in range(1, new + 1)]


# --- hashing --------------------------------------------------------------------------------


def test_leaf_and_node_hashes_carry_the_rfc_6962_prefixes():
    left, right = LEAVES[1], LEAVES[2]
    assert leaf_hash(b"entry") == hashlib.sha256(b"\x00entry").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


def test_the_empty_tree_root_is_sha256_of_nothing():
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == ROOTS[0]
    assert root([]) == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_root_is_the_reference_root_at_every_size(size):
    assert root(LEAVES[:size]) == ROOTS[size]


def test_the_split_is_the_largest_power_of_two_below_the_size_not_the_midpoint():
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(70)]
    for n in range(2, 71):
        k = 1
        while k * 2 < n:
            k *= 2
        assert root(hashes[:n]) == node_hash(root(hashes[:k]), root(hashes[k:n])), n


def test_pymerkle_with_its_default_prefixes_gives_the_reference_roots():
    # Pins that pymerkle hashes as RFC 6962 does, so comparing with it below compares like
    # with like: append_entry takes the raw entry and prefixes 0x00 itself.
    tree = InmemoryTree(algorithm="sha256")
    for entry in DATA:
        tree.append_entry(entry)
    assert [tree.get_root(size) for size in range(9)] == ROOTS
    assert [tree.get_leaf(i + 1) for i in range(8)] == LEAVES


# --- inclusion ------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION_VECTORS)
def test_inclusion_proof_is_the_reference_proof(index, size, path):
    assert inclusion_proof(LEAVES[:size], index) == path
    assert verify_inclusion(LEAVES[index], index, size, path, ROOTS[size])


@pytest.mark.parametrize(("size", "index"), EVERY_LEAF)
def test_every_inclusion_proof_verifies_and_no_tampered_one_does(size, index):
    leaf, good_root = LEAVES[index], ROOTS[size]
    proof = inclusion_proof(LEAVES[:size], index)
    assert verify_inclusion(leaf, index, size, proof, good_root)

    for at, element in enumerate(proof):
        for byte in (0, 31):
            bad = [*proof[:at], flipped(element, byte), *proof[at + 1 :]]
            assert not verify_inclusion(leaf, index, size, bad, good_root), (at, byte)
    assert not verify_inclusion(flipped(leaf, 5), index, size, proof, good_root)
    assert not verify_inclusion(leaf, index, size, proof, flipped(good_root, 17))
    for other in range(8):
        if other != index:
            assert not verify_inclusion(LEAVES[other], index, size, proof, good_root), other
    for wrong_index in range(-1, size + 2):
        if wrong_index != index:
            assert not verify_inclusion(leaf, wrong_index, size, proof, good_root), wrong_index
    # A wrong size is checked against that size's own root: size and root come as one claim.
    for wrong_size in range(index + 1, 9):
        if wrong_size != size:
            assert not verify_inclusion(leaf, index, wrong_size, proof, ROOTS[wrong_size])
    assert not verify_inclusion(leaf, index, size * 2, proof, good_root)
    if proof:
        assert not verify_inclusion(leaf, index, size, proof[:-1], good_root)
        assert not verify_inclusion(leaf, index, size, proof[1:], good_root)
    assert not verify_inclusion(leaf, index, size, [*proof, good_root], good_root)
    assert not verify_inclusion(leaf, index, size, [good_root, *proof], good_root)
    assert not verify_inclusion(leaf, index, size, [*proof, EMPTY_ROOT], good_root)


# --- consistency ----------------------------------------------------------------------------


@pytest.mark.parametrize(("old_size", "new_size", "path"), CONSISTENCY_VECTORS)
def test_consistency_proof_is_the_reference_proof(old_size, new_size, path):
    assert consistency_proof(LEAVES[:new_size], old_size) == path
    assert verify_consistency(old_size, new_size, ROOTS[old_size], ROOTS[new_size], path)


@pytest.mark.parametrize(("old_size", "new_size"), EVERY_PAIR)
def test_every_consistency_proof_verifies_and_no_tampered_one_does(old_size, new_size):
    old_root, new_root = ROOTS[old_size], ROOTS[new_size]
    proof = consistency_proof(LEAVES[:new_size], old_size)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)

    for at, element in enumerate(proof):
        for byte in (0, 31):
            bad = [*proof[:at], flipped(element, byte), *proof[at + 1 :]]
            assert not verify_consistency(old_size, new_size, old_root, new_root, bad), at
    assert not verify_consistency(old_size, new_size, flipped(old_root, 3), new_root, proof)
    assert not verify_consistency(old_size, new_size, old_root, flipped(new_root, 3), proof)
    for wrong_old in range(1, new_size + 1):
        if wrong_old != old_size:
            claim = (wrong_old, new_size, ROOTS[wrong_old], new_root, proof)
            assert not verify_consistency(*claim), wrong_old
    for wrong_new in range(old_size, 9):
        if wrong_new != new_size:
            claim = (old_size, wrong_new, old_root, ROOTS[wrong_new], proof)
            assert not verify_consistency(*claim), wrong_new
    if old_size != new_size:
        assert not verify_consistency(old_size, new_size, new_root, old_root, proof)
        assert not verify_consistency(old_size, new_size, old_root, new_root, [])
        assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
        assert not verify_consistency(old_size, new_size, old_root, new_root, proof[1:])
        assert not verify_consistency(0, new_size, EMPTY_ROOT, new_root, proof)
        # The true roots under a larger new size: the size is part of what is proved.
        assert not verify_consistency(old_size, new_size * 2, old_root, new_root, proof)
    for extra in (old_root, new_root, EMPTY_ROOT):
        for bad in ([*proof, extra], [extra, *proof]):
            assert not verify_consistency(old_size, new_size, old_root, new_root, bad)


def test_the_empty_tree_is_consistent_with_every_tree_by_an_empty_proof():
    assert consistency_proof(LEAVES, 0) == []
    assert verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 8, ROOTS[1], ROOTS[8], [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, ROOTS[1], [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [EMPTY_ROOT])


# --- malformed input ------------------------------------------------------------------------


def test_verifiers_refuse_hashes_of_the_wrong_length_or_type():
    # With a one-leaf tree the leaf is the root and the proof is empty, so only a length check
    # stops two equal non-hashes from verifying.
    short = bytes(31)
    assert not verify_inclusion(b"", 0, 1, [], b"")
    assert not verify_inclusion(short, 0, 1, [], short)
    assert not verify_consistency(3, 3, short, short, [])
    assert not verify_inclusion(LEAVES[0], 0, 2, [LEAVES[1] + b"\x00"], ROOTS[2])
    # Text of the right length, as a proof decoded from JSON without unhexing would be.
    text = LEAVES[1].hex()[:32]
    assert not verify_inclusion(LEAVES[0], 0, 2, [text], ROOTS[2])  # type: ignore[list-item]
    assert not verify_consistency(1, 2, ROOTS[1], ROOTS[2], [text])  # type: ignore[list-item]


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (8, 8), (-1, 8), (0, -1)])
def test_verify_inclusion_is_false_for_impossible_positions(index, size):
    assert not verify_inclusion(LEAVES[0], index, size, [], ROOTS[1])
    assert not verify_inclusion(LEAVES[0], index, size, [LEAVES[1]], ROOTS[2])


@pytest.mark.parametrize(
    ("old_size", "new_size"), [(8, 4), (2, 1), (-1, 8), (-2, -1), (-3, -3), (1, 0)]
)
def test_verify_consistency_is_false_for_impossible_sizes(old_size, new_size):
    proof = consistency_proof(LEAVES[:8], 4)
    assert not verify_consistency(old_size, new_size, ROOTS[4], ROOTS[8], proof)
    assert not verify_consistency(old_size, new_size, ROOTS[8], ROOTS[4], proof)
    assert not verify_consistency(old_size, new_size, ROOTS[1], ROOTS[1], [])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: inclusion_proof(LEAVES, 8), "leaf index 8 is out of range for a tree of 8"),
        (lambda: inclusion_proof(LEAVES, -1), "leaf index -1 is out of range"),
        (lambda: inclusion_proof([], 0), "leaf index 0 is out of range for a tree of 0"),
        (lambda: consistency_proof(LEAVES, 9), r"old size 9 is out of range .* \(0\.\.8\)"),
        (lambda: consistency_proof(LEAVES, -1), "old size -1 is out of range"),
    ],
)
def test_proof_builders_refuse_positions_outside_the_tree(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: root(DATA),
        lambda: inclusion_proof(DATA, 0),
        lambda: consistency_proof(DATA, 1),
        lambda: MerkleLog().append(DATA[3]),
    ],
)
def test_builders_refuse_entries_passed_where_leaf_hashes_belong(call):
    with pytest.raises(
        ValueError, match=r"position 0 is \d bytes, not 32: pass leaf_hash\(entry\)"
    ):
        call()


# --- the incremental log --------------------------------------------------------------------


def test_merkle_log_gives_the_reference_root_at_every_size():
    log = MerkleLog()
    assert (log.size, log.root()) == (0, ROOTS[0])
    for size, leaf in enumerate(LEAVES, start=1):
        log.append(leaf)
        assert (log.size, log.root()) == (size, ROOTS[size])


def test_merkle_log_matches_root_at_every_size_and_keeps_only_its_frontier():
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(300)]
    log = MerkleLog()
    for size, leaf in enumerate(hashes, start=1):
        log.append(leaf)
        assert log.size == size
        assert log.root() == root(hashes[:size]), size
        # The memory bound: one subtree root per set bit of the size, never the leaves.
        assert len(log._frontier) == size.bit_count(), size


# --- agreement with pymerkle ----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(st.binary(max_size=24), max_size=70), data=st.data())
def test_agrees_with_pymerkle_on_random_logs(entries, data):
    hashes = [leaf_hash(entry) for entry in entries]
    n = len(hashes)
    tree = InmemoryTree(algorithm="sha256")  # RFC 6962 prefixes by default
    for entry in entries:
        tree.append_entry(entry)  # pymerkle hashes the raw entry into the leaf itself
    assert [tree.get_leaf(i + 1) for i in range(n)] == hashes
    assert [tree.get_root(size) for size in range(n + 1)] == [
        root(hashes[:size]) for size in range(n + 1)
    ]
    if n == 0:
        return

    index = data.draw(st.integers(0, n - 1), label="index")
    size = data.draw(st.integers(index + 1, n), label="size")
    ours = inclusion_proof(hashes[:size], index)
    assert verify_inclusion(hashes[index], index, size, ours, tree.get_root(size))
    theirs = tree.prove_inclusion(index + 1, size)
    # pymerkle leads its path with the leaf itself; the siblings after it are RFC 6962's PATH.
    assert theirs.path == [hashes[index], *ours]
    pymerkle_verify_inclusion(
        hashes[index], root(hashes[:size]), theirs, index=index + 1, size=size
    )

    old_size = data.draw(st.integers(1, n), label="old_size")
    ours = consistency_proof(hashes, old_size)
    assert verify_consistency(old_size, n, tree.get_root(old_size), tree.get_root(), ours)
    # pymerkle's consistency path is laid out its own way, so each side checks its own proof
    # against the other's roots.
    theirs = tree.prove_consistency(old_size, n)
    pymerkle_verify_consistency(
        root(hashes[:old_size]), root(hashes), theirs, prior_size=old_size, later_size=n
    )


@given(st.integers(min_value=1, max_value=70), st.data())
def test_proofs_from_stored_perfect_subtrees_equal_proofs_from_the_leaves(size, data):
    # A store keeps the roots MerkleLog.append reports; proofs built from them alone must be
    # the very proofs of the whole leaf list.
    leaves = [leaf_hash(bytes([i % 256, i // 256])) for i in range(size)]
    log, stored = MerkleLog(), {(0, i): leaf for i, leaf in enumerate(leaves)}
    for leaf in leaves:
        for level, index, node in log.append(leaf):
            stored[(level, index)] = node

    def from_store(lo, hi):
        return range_root(lo, hi, lambda level, index: stored[(level, index)])

    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    old_size = data.draw(st.integers(min_value=0, max_value=size))
    assert inclusion_path(size, index, from_store) == inclusion_proof(leaves, index)
    assert consistency_path(old_size, size, from_store) == consistency_proof(leaves, old_size)
    assert from_store(0, size) == root(leaves)
    needed = perfect_nodes_needed(lambda subtree: inclusion_path(size, index, subtree))
    assert needed <= stored.keys()


@given(st.integers(min_value=0, max_value=300))
def test_a_log_resumed_from_its_frontier_goes_on_like_the_original(size):
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(size + 5)]
    original, stored = MerkleLog(), {(0, i): leaf for i, leaf in enumerate(leaves)}
    for leaf in leaves[:size]:
        for level, index, node in original.append(leaf):
            stored[(level, index)] = node
    resumed = MerkleLog.resume(size, [stored[node] for node in frontier_nodes(size)])
    assert resumed.root() == original.root() == root(leaves[:size])
    for leaf in leaves[size:]:
        assert resumed.append(leaf) == original.append(leaf)
    assert resumed.root() == root(leaves)


def test_resuming_with_the_wrong_number_of_frontier_roots_is_refused():
    with pytest.raises(ValueError, match="frontier nodes"):
        MerkleLog.resume(5, [leaf_hash(b"a")])
