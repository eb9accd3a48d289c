"""What makes a printed answer checkable later: the subject's latest event the answer reflects,
its leaf in the sealed log, and the newest signed checkpoint, with whether that checkpoint's
tree already holds the event. With them an auditor asks for the inclusion proof of the event in
that tree (GET /v1/audit/proofs/inclusion) and replays the subject's stream to the version the
answer names."""

from __future__ import annotations

from dataclasses import dataclass

from service.integrity.checkpoints import Checkpoint, Checkpoints


@dataclass(frozen=True)
class Evidence:
    position: int  # the subject's latest event's log position
    leaf_index: int | None  # its leaf in the Merkle log; None: not sealed
    checkpoint: Checkpoint | None  # the newest signed checkpoint; None: none yet

    @property
    def covered(self) -> bool:
        """The checkpoint's tree holds the event: the answer can be proved against it now."""
        return (
            self.checkpoint is not None
            and self.leaf_index is not None
            and self.leaf_index < self.checkpoint.tree_size
        )


def evidence_for(checkpoints: Checkpoints, position: int) -> Evidence:
    """Read only: a checkpoint is signed on the schedule (or by an auditor), never by a read."""
    with checkpoints.reader.connect() as conn:
        seal = checkpoints.log.seal_at(conn, position)
    return Evidence(position, seal.leaf_index if seal else None, checkpoints.latest())
