"""An RFC 6962 Merkle tree over the event log in position order: roots, proofs and a frontier."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HASH_SIZE = 32

# The distinct prefixes keep a leaf from ever hashing like an interior node (second preimages).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


@dataclass(frozen=True)
class TreeHash:
    """RFC 6962's leaf and node hashes over one 256-bit hash function: SHA-256 as the RFC has
    it, or SM3 (GB/T 32905) for the 国密 suite's second tree."""

    digest: Callable[[bytes], bytes]

    def leaf(self, data: bytes) -> bytes:
        return self.digest(_LEAF_PREFIX + data)

    def node(self, left: bytes, right: bytes) -> bytes:
        return self.digest(_NODE_PREFIX + left + right)

    @property
    def empty(self) -> bytes:
        return self.digest(b"")


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


SHA256_TREE = TreeHash(_sha256)
EMPTY_ROOT = SHA256_TREE.empty

# The root of the leaves lo..hi-1 of the tree (a range RFC 6962's recursion asks for).
SubtreeRoot = Callable[[int, int], bytes]
# The root of the perfect subtree at `level` (2**level leaves) and `index` along that level.
PerfectNode = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one entry of the log."""
    return SHA256_TREE.leaf(data)


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return SHA256_TREE.node(left, right)


def root(leaf_hashes: Sequence[bytes], tree: TreeHash = SHA256_TREE) -> bytes:
    """MTH(D[n]) of RFC 6962 section 2.1 over leaves that are already hashed."""
    _check_leaf_hashes(leaf_hashes)
    return _mth(leaf_hashes, 0, len(leaf_hashes), tree)


def inclusion_proof(
    leaf_hashes: Sequence[bytes], index: int, tree: TreeHash = SHA256_TREE
) -> list[bytes]:
    """PATH(index, D[n]) of RFC 6962 section 2.1.1: the sibling hashes from the leaf upwards."""
    _check_leaf_hashes(leaf_hashes)
    return inclusion_path(len(leaf_hashes), index, _range_root(leaf_hashes, tree))


def inclusion_path(size: int, index: int, subtree_root: SubtreeRoot) -> list[bytes]:
    """PATH(index, D[size]) from any source of subtree roots (see `SubtreeRoot`)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is out of range for a tree of {size} leaves")
    top_down = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            top_down.append(subtree_root(lo + k, hi))
            hi = lo + k
        else:
            top_down.append(subtree_root(lo, lo + k))
            lo += k
    top_down.reverse()
    return top_down


def consistency_proof(
    leaf_hashes: Sequence[bytes], old_size: int, tree: TreeHash = SHA256_TREE
) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 6962 section 2.1.2, bottom-up.

    The empty tree is a prefix of every tree, so the proof from size 0 is empty, as is the
    proof from a size to itself.
    """
    _check_leaf_hashes(leaf_hashes)
    return consistency_path(old_size, len(leaf_hashes), _range_root(leaf_hashes, tree))


def consistency_path(old_size: int, size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    """PROOF(old_size, D[size]) from any source of subtree roots (see `SubtreeRoot`)."""
    if not 0 <= old_size <= size:
        raise ValueError(
            f"old size {old_size} is out of range for a tree of {size} leaves (0..{size})"
        )
    if old_size in (0, size):
        return []
    top_down = []
    lo, hi, m = 0, size, old_size
    # `whole` is SUBPROOF's b: true while the old tree is still the leftmost subtree, whose root
    # the verifier already holds, so it is left out of the proof.
    whole = True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            top_down.append(subtree_root(lo + k, hi))
            hi = lo + k
        else:
            top_down.append(subtree_root(lo, lo + k))
            lo += k
            m -= k
            whole = False
    if not whole:
        top_down.append(subtree_root(lo, hi))
    top_down.reverse()
    return top_down


def range_root(lo: int, hi: int, perfect_node: PerfectNode, tree: TreeHash = SHA256_TREE) -> bytes:
    """MTH(D[lo:hi]) built from perfect subtrees only, for ranges that RFC 6962's splits
    produce (lo a multiple of the largest power of two below hi - lo). A store that keeps every
    perfect subtree's root answers any root or proof with O(log² n) of them."""
    n = hi - lo
    if n <= 0:
        raise ValueError(f"empty range {lo}..{hi}")
    if n & (n - 1) == 0 and lo % n == 0:
        return perfect_node(n.bit_length() - 1, lo // n)
    k = _split(n)
    return tree.node(
        range_root(lo, lo + k, perfect_node, tree), range_root(lo + k, hi, perfect_node, tree)
    )


def perfect_nodes_needed(compute: Callable[[SubtreeRoot], object]) -> set[tuple[int, int]]:
    """The perfect subtrees (level, index) that `compute` reads through `range_root`, found by
    running it on placeholders, so that a store can fetch them all in one query first."""
    needed: set[tuple[int, int]] = set()

    def placeholder(level: int, index: int) -> bytes:
        needed.add((level, index))
        return bytes(HASH_SIZE)

    compute(lambda lo, hi: range_root(lo, hi, placeholder))
    return needed


def verify_inclusion(
    leaf: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root: bytes,
    tree: TreeHash = SHA256_TREE,
) -> bool:
    """Whether `proof` shows the leaf hash `leaf` at `index` in the tree of `size` with `root`.

    RFC 9162 section 2.1.3.2. Never raises: anything that does not verify, however malformed,
    is False, since proofs come from outside.
    """
    if not 0 <= index < size or not _all_hashes(leaf, root, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False  # more hashes than the path from this leaf has levels
        if fn & 1 or fn == sn:
            r = tree.node(p, r)
            # A right edge with no sibling: climb past the levels where the node was promoted.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = tree.node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    tree: TreeHash = SHA256_TREE,
) -> bool:
    """Whether `proof` shows the tree of `old_size` with `old_root` is a prefix of the tree of
    `new_size` with `new_root`.

    RFC 9162 section 2.1.4.2, which covers 0 < old_size < new_size; a size against itself needs
    an empty proof and equal roots, and the empty tree an empty proof and the empty root. Never
    raises: anything that does not verify, however malformed, is False.
    """
    if not 0 <= old_size <= new_size or not _all_hashes(old_root, new_root, *proof):
        return False
    if old_size == 0:
        empty = tree.empty
        return not proof and old_root == empty and (new_size > 0 or new_root == empty)
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is then a whole left subtree, so the proof leaves its root out.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = tree.node(c, fr)
            sr = tree.node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = tree.node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class MerkleLog:
    """An append-only Merkle tree that keeps only its frontier: the roots of the perfect
    subtrees that make up its leaves, largest (leftmost) first, one per set bit of the size."""

    __slots__ = ("_frontier", "_size", "_tree")

    def __init__(self, tree: TreeHash = SHA256_TREE) -> None:
        self._frontier: list[bytes] = []
        self._size = 0
        self._tree = tree

    @classmethod
    def resume(
        cls, size: int, frontier: Sequence[bytes], tree: TreeHash = SHA256_TREE
    ) -> MerkleLog:
        """A log of `size` leaves from the roots of its `frontier_nodes(size)`, in that order."""
        if len(frontier) != len(frontier_nodes(size)):
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier nodes")
        log = cls(tree)
        log._frontier = list(frontier)
        log._size = size
        return log

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add the next leaf hash; merges equal-sized subtrees like a binary counter carries.
        Returns the perfect subtrees it completed, as (level, index, root), lowest first."""
        _check_leaf_hashes((leaf_hash,))
        index = self._size
        completed = []
        node, carry, level = leaf_hash, index, 0
        while carry & 1:
            node = self._tree.node(self._frontier.pop(), node)
            carry >>= 1
            level += 1
            completed.append((level, index >> level, node))
        self._frontier.append(node)
        self._size += 1
        return completed

    @property
    def size(self) -> int:
        return self._size

    def root(self) -> bytes:
        """The root of every leaf appended so far, equal to `root()` over them."""
        if not self._frontier:
            return self._tree.empty
        # RFC 6962's split puts the largest perfect subtree on the left, so the frontier folds
        # from the right.
        r = self._frontier[-1]
        for left in reversed(self._frontier[:-1]):
            r = self._tree.node(left, r)
        return r


def frontier_nodes(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees (level, index) whose roots make up a tree of `size` leaves,
    largest (leftmost) first: one per set bit of the size."""
    nodes, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def _range_root(leaf_hashes: Sequence[bytes], tree: TreeHash) -> SubtreeRoot:
    return lambda lo, hi: _mth(leaf_hashes, lo, hi, tree)


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaf_hashes: Sequence[bytes], lo: int, hi: int, tree: TreeHash) -> bytes:
    # Index bounds rather than slices, so no level of the recursion copies the leaves.
    n = hi - lo
    if n == 0:
        return tree.empty
    if n == 1:
        return leaf_hashes[lo]
    k = _split(n)
    return tree.node(_mth(leaf_hashes, lo, lo + k, tree), _mth(leaf_hashes, lo + k, hi, tree))


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    # The likely mistake is passing the entries themselves where their hashes belong, which
    # would give a root that no other RFC 6962 implementation agrees with.
    for position, h in enumerate(leaf_hashes):
        if len(h) != HASH_SIZE:
            raise ValueError(
                f"leaf hash at position {position} is {len(h)} bytes, not {HASH_SIZE}: "
                "pass leaf_hash(entry), not the entry"
            )


def _all_hashes(*values: bytes) -> bool:
    # Checked by type as well as length so that a malformed proof is refused, not an exception.
    return all(isinstance(v, bytes | bytearray) and len(v) == HASH_SIZE for v in values)
