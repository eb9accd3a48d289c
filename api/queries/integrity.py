"""Tamper evidence over HTTP: signed checkpoints and their keys (public, like a transparency
log's), checkpoints on demand, inclusion and consistency proofs, and signed NDJSON exports."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.auth import Auditor, Purpose, log_reads
from api.deps import MAX_INT64, ServicesDep
from api.errors import AUTHENTICATED, InvalidRequest, problems
from api.schemas import (
    CHECKPOINT_EXAMPLE,
    HASH,
    SUBJECT_ID,
    CheckpointBody,
    CheckpointKeys,
    CheckpointPage,
    ConsistencyProof,
    InclusionProof,
)
from domain.errors import CheckpointNotFound, EventNotSealed, NotYetCheckpointed, SubjectNotFound
from service.access.access_log import NO_SUBJECT
from service.integrity.checkpoints import Checkpoint
from service.integrity.export import EXPORT_FORMAT, export_lines, export_summary

router = APIRouter(prefix="/v1/audit", tags=["tamper evidence"])
# An export's lines, in order: what it covers, each event with its seal (and for one subject its
# inclusion proof), the checkpoint it matches, the keys, and the signature over all the lines.
EXPORT_EXAMPLE = (
    "\n".join(
        json.dumps(line, ensure_ascii=False)
        for line in (
            {
                "type": "export",
                "format": EXPORT_FORMAT,
                "origin": "credit-transport",
                "scope": "subject",
                "subject_id": SUBJECT_ID,
                "tree_size": 6,
                "generated_at": "2026-11-20T04:00:00+00:00",
            },
            {
                "type": "event",
                "position": 1,
                "stream": SUBJECT_ID,
                "version": 1,
                "topic": "credit:SubjectRegistered",
                "state": {"kind": "enterprise", "name": "郑州宏达道路运输有限公司"},
                "seal": {
                    "leaf_index": 0,
                    "stream": SUBJECT_ID,
                    "version": 1,
                    "event_hash": HASH,
                    "prev_hash": None,
                },
                "inclusion_proof": [HASH],
            },
            {"type": "checkpoint", **CHECKPOINT_EXAMPLE},
            {"type": "keys", "keys": CheckpointKeys.model_json_schema()["examples"][0]["keys"]},
            {
                "type": "signature",
                "algorithm": "Ed25519",
                "key_id": CHECKPOINT_EXAMPLE["key_id"],
                "sha256": HASH,
                "signature": CHECKPOINT_EXAMPLE["signature"],
            },
        )
    )
    + "\n"
)
log = logging.getLogger(__name__)


def _latest_size(services) -> int:
    latest = services.checkpoints.latest()
    if latest is None:
        raise CheckpointNotFound("no checkpoint has been signed yet")
    return latest.tree_size


@router.get(
    "/checkpoints/latest",
    operation_id="getLatestCheckpoint",
    summary="The newest signed checkpoint",
    response_model=CheckpointBody,
    # as signed: a format-2 checkpoint has no 国密 fields, not null ones
    response_model_exclude_unset=True,
    responses=problems(404),
)
async def latest_checkpoint(services: ServicesDep) -> dict[str, Any]:
    """The newest signed checkpoint: tree size, root, time, key id, Ed25519 signature over the
    canonical JSON of origin, tree size, root and time. Public: save it to check later exports
    against it."""
    checkpoint = await run_in_threadpool(services.checkpoints.latest)
    if checkpoint is None:
        raise CheckpointNotFound("no checkpoint has been signed yet")
    return checkpoint.as_json()


@router.get(
    "/checkpoints",
    operation_id="listCheckpoints",
    summary="Signed checkpoints, newest first",
    response_model=CheckpointPage,
    response_model_exclude_unset=True,
    responses=problems(422),
)
async def list_checkpoints(
    services: ServicesDep,
    before_size: Annotated[
        int | None, Query(ge=1, le=MAX_INT64, description="page: sizes below this")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="checkpoints per page")] = 100,
) -> dict[str, Any]:
    """Signed checkpoints, newest first. Several can sign one tree size (the chained logs
    grow without it); a page never splits them, unless more than `limit` share one size, of
    which the newest `limit` are listed."""
    found: list[Checkpoint] = await run_in_threadpool(
        services.checkpoints.recent, limit, before_size
    )
    next_before_size = None
    if len(found) == limit:
        last = found[-1].tree_size
        whole = [c for c in found if c.tree_size != last]
        if whole:  # the last size may go on on the next page: it starts there, whole
            found, next_before_size = whole, last + 1
        else:
            next_before_size = last
    return {"checkpoints": [c.as_json() for c in found], "next_before_size": next_before_size}


@router.get(
    "/checkpoints/{tree_size}",
    operation_id="getCheckpoint",
    summary="The checkpoint signed at a tree size",
    response_model=CheckpointBody,
    # as signed: a format-2 checkpoint has no 国密 fields, not null ones
    response_model_exclude_unset=True,
    responses=problems(404, 422),
)
async def checkpoint_at(
    tree_size: Annotated[
        int, Path(ge=1, le=MAX_INT64, description="The tree size a checkpoint was signed at")
    ],
    services: ServicesDep,
) -> dict[str, Any]:
    """The checkpoint signed when the tree had this many leaves (the newest, if several): to
    check a proof or an export against a size saved earlier. Public."""
    checkpoint = await run_in_threadpool(services.checkpoints.at_size, tree_size)
    if checkpoint is None:
        raise CheckpointNotFound(f"no checkpoint was signed at tree size {tree_size}")
    return checkpoint.as_json()


@router.post(
    "/checkpoints",
    operation_id="makeCheckpoint",
    summary="Sign a checkpoint now",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckpointBody,
    # as signed: a format-2 checkpoint has no 国密 fields, not null ones
    response_model_exclude_unset=True,
    responses={
        200: {
            "description": "Nothing was appended since the latest checkpoint; it is returned",
            "model": CheckpointBody,
        },
        **problems(*AUTHENTICATED),
    },
)
async def make_checkpoint(services: ServicesDep, caller: Auditor) -> JSONResponse:
    """Sign a checkpoint now. 201 with the new one, or 200 with the latest if nothing was
    appended since."""
    before = await run_in_threadpool(services.checkpoints.latest)
    checkpoint = await run_in_threadpool(services.checkpoints.make)
    fresh = before is None or before.tree_size != checkpoint.tree_size
    return JSONResponse(checkpoint.as_json(), status_code=201 if fresh else 200)


@router.get(
    "/checkpoint-keys",
    operation_id="listCheckpointKeys",
    summary="Every key that signed checkpoints",
    response_model=CheckpointKeys,
)
async def checkpoint_keys(services: ServicesDep) -> dict[str, Any]:
    """Every key that ever signed a checkpoint, retired ones included (forever: old
    checkpoints must keep verifying). Public keys are raw Ed25519, base64."""
    return {"keys": await run_in_threadpool(services.checkpoints.public_keys)}


@router.get(
    "/proofs/inclusion",
    operation_id="getInclusionProof",
    summary="Proof that an event is in a checkpointed tree",
    response_model=InclusionProof,
    responses=problems(*AUTHENTICATED, 404, 409, 422),
)
async def inclusion_proof(
    services: ServicesDep,
    caller: Auditor,
    position: Annotated[
        int, Query(ge=1, le=MAX_INT64, description="the event's global log position")
    ],
    tree_size: Annotated[
        int | None,
        Query(ge=1, le=MAX_INT64, description="a checkpointed tree size (default: the latest)"),
    ] = None,
) -> dict[str, Any]:
    """The audit path from the event's leaf to the root of a checkpointed tree (RFC 6962)."""
    return await run_in_threadpool(_inclusion, services, position, tree_size)


def _inclusion(services, position: int, tree_size: int | None) -> dict[str, Any]:
    size = tree_size or _latest_size(services)
    if not _checkpointed(services, size):
        raise CheckpointNotFound(f"no checkpoint was signed at tree size {size}")
    log = services.checkpoints.log
    with services.checkpoints.reader.connect() as conn:
        seal = log.seal_at(conn, position)
        if seal is None:
            raise EventNotSealed(f"no sealed event at position {position}")
        if seal.leaf_index >= size:
            raise NotYetCheckpointed(
                f"the event at position {position} is leaf {seal.leaf_index}, after the tree of "
                f"{size}; ask for a newer checkpoint (POST /v1/audit/checkpoints)",
            )
        proof = log.inclusion_proof(conn, seal.leaf_index, size)
    return {
        "position": position,
        "leaf_index": seal.leaf_index,
        "stream": str(seal.stream_id),
        "version": seal.version,
        "event_hash": seal.event_hash.hex(),
        "tree_size": size,
        "proof": [h.hex() for h in proof],
    }


def _checkpointed(services, size: int) -> bool:
    return services.checkpoints.at_size(size) is not None


@router.get(
    "/proofs/consistency",
    operation_id="getConsistencyProof",
    summary="Proof that an older tree is a prefix of a newer",
    response_model=ConsistencyProof,
    responses=problems(404, 422),
)
async def consistency_proof(
    services: ServicesDep,
    old_size: Annotated[
        int,
        Query(ge=0, le=MAX_INT64, description="the tree size of a checkpoint saved earlier"),
    ],
    new_size: Annotated[
        int | None, Query(ge=1, le=MAX_INT64, description="default: the latest checkpoint")
    ] = None,
) -> dict[str, Any]:
    """That the tree of `old_size` is a prefix of the tree of `new_size` (RFC 6962), both
    checkpointed. Public, like the checkpoints it links."""
    return await run_in_threadpool(_consistency, services, old_size, new_size)


def _consistency(services, old_size: int, new_size: int | None) -> dict[str, Any]:
    size = new_size or _latest_size(services)
    for wanted in (old_size, size):
        if wanted and not _checkpointed(services, wanted):
            raise CheckpointNotFound(f"no checkpoint was signed at tree size {wanted}")
    if old_size > size:
        raise InvalidRequest(f"old_size {old_size} exceeds new_size {size}")
    with services.checkpoints.reader.connect() as conn:
        proof = services.checkpoints.log.consistency_proof(conn, old_size, size)
    return {"old_size": old_size, "new_size": size, "proof": [h.hex() for h in proof]}


@router.get(
    "/export",
    operation_id="exportEvents",
    summary="A signed NDJSON export of a subject's events or the store",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The export, one JSON document a line",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}, "example": EXPORT_EXAMPLE}
            },
            "headers": {
                "Content-Disposition": {
                    "schema": {"type": "string"},
                    "description": 'attachment; filename="credit-export-<subject or store>.ndjson"',
                }
            },
        },
        **problems(*AUTHENTICATED, 404, 422),
    },
)
async def export(
    services: ServicesDep,
    caller: Auditor,
    why: Purpose,
    subject_id: Annotated[UUID | None, Query(description="one subject (default: all)")] = None,
    since_tree_size: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_INT64,
            description="include a consistency proof from this (saved) tree size",
        ),
    ] = None,
) -> StreamingResponse:
    """A signed NDJSON export of a subject's events or the whole store, with a fresh checkpoint
    it matches. Check it offline with `credit audit verify-export`. Logged before it streams:
    a subject export under the subject, a store export as one access-log entry under the nil
    subject id with the range and count of events and the checkpoint root."""
    if subject_id is not None and not await run_in_threadpool(_known, services, subject_id):
        raise SubjectNotFound(f"no subject {subject_id}")
    checkpoint = await run_in_threadpool(services.checkpoints.make)
    lines = export_lines(
        services.checkpoints,
        subject_id=subject_id,
        since_tree_size=since_tree_size,
        checkpoint=checkpoint,
    )
    first = await run_in_threadpool(next, lines)  # range errors (ExportRangeError) surface here
    summary = export_summary(checkpoint, subject_id, since_tree_size)
    if subject_id is None:
        log.info("whole-store export by client %s: %s", caller.client_id, why)
    await log_reads(services, caller, why, "export", {subject_id or NO_SUBJECT: summary})
    name = f"credit-export-{subject_id or 'store'}.ndjson"

    def rest():
        yield first
        yield from lines

    return StreamingResponse(
        rest(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _known(services, subject_id: UUID) -> bool:
    with services.checkpoints.reader.connect() as conn:
        return services.checkpoints.log.has_stream(conn, subject_id)
