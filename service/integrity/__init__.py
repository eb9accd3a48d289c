"""Tamper evidence for the event log: seals written with each event, the Merkle tree over them,
signed checkpoints, proofs, signed exports and the offline verifier."""
