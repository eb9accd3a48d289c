"""Tamper evidence for the event log: seals, Merkle tree, signed checkpoints, exports, verifier."""
