"""Administration over HTTP (admin role): API clients, signing keys, erasure of personal data."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, status
from pydantic import ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Admin
from api.deps import ServicesDep
from api.errors import AUTHENTICATED, WITH_BODY, Problem, problems
from api.schemas import (
    ClientCreated,
    ClientView,
    KeyRotated,
    PersonalDataErased,
    PolicyVersion,
)
from service.access.clients import ClientError
from service.commands import Input

router = APIRouter(prefix="/v1/admin", tags=["administration"], responses=problems(*AUTHENTICATED))


class NewClient(Input):
    model_config = ConfigDict(extra="forbid")
    client_id: Annotated[str, Field(min_length=3, max_length=64)]
    role: str
    agency_name: Annotated[str, Field(min_length=1, max_length=200)]
    agency_code: str
    authority_codes: list[str] = Field(default_factory=list)
    sectors: list[str] = Field(default_factory=list)


def _view(client) -> dict:
    return {
        "client_id": client.client_id,
        "role": client.role,
        "agency_name": client.agency_name,
        "agency_code": client.agency_code,
        "authority_codes": list(client.authority_codes),
        "sectors": list(client.sectors),
        "scopes": list(client.scopes),
        "disabled": client.disabled,
    }


@router.get("/clients", response_model=list[ClientView])
async def list_clients(services: ServicesDep, _: Admin) -> list[dict]:
    return [_view(c) for c in await run_in_threadpool(services.clients.all)]


@router.post(
    "/clients",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientCreated,
    responses=problems(*WITH_BODY),
)
async def create_client(body: NewClient, services: ServicesDep, _: Admin) -> dict:
    """Create a client; the answer carries its secret, which is never shown again."""
    try:
        client, secret = await run_in_threadpool(
            services.clients.create,
            body.client_id,
            body.role,
            body.agency_name,
            body.agency_code,
            body.authority_codes,
            body.sectors,
        )
    except ClientError as error:
        raise Problem(422, "invalid-client", str(error)) from None
    return {**_view(client), "client_secret": secret}


@router.post(
    "/clients/{client_id}:disable", response_model=ClientView, responses=problems(409, 422)
)
async def disable_client(client_id: str, services: ServicesDep, _: Admin) -> dict:
    try:
        client = await run_in_threadpool(services.clients.disable, client_id)
    except ClientError as error:
        raise Problem(409, "invalid-client", str(error)) from None
    return _view(client)


@router.post("/keys:rotate", response_model=KeyRotated)
async def rotate_keys(services: ServicesDep, _: Admin) -> dict:
    return {"kid": await run_in_threadpool(services.keys.rotate)}


@router.post(
    "/subjects/{subject_id}:erase-personal-data",
    response_model=PersonalDataErased,
    responses=problems(404, 422),
)
async def erase_personal_data(subject_id: UUID, services: ServicesDep, _: Admin) -> dict:
    """Crypto-shredding: destroy the subject's data key. Its sealed fields (ID number, phone,
    address) become unreadable for good; every event stays, so the history and its integrity
    checks are unaffected."""
    erased = await run_in_threadpool(services.vault.erase, subject_id)
    if not erased:
        raise Problem(
            404,
            "no-personal-data",
            "this subject has no sealed personal data (or it was erased before)",
        )
    return {"subject_id": subject_id, "erased": True}


@router.get("/policy", response_model=list[PolicyVersion])
async def policy_versions(services: ServicesDep, _: Admin) -> list[dict]:
    """The policy versions in force, in order. They are managed as the versioned policy file
    (reviewed like code, each value with its source): add a version there with its
    effective date and restart; a faulty file stops the start with the exact place."""
    return [
        {
            "id": v.id,
            "effective_from": v.effective_from,
            "title": v.title,
            "schemes": sorted(v.schemes),
            "supervision": [
                {"tier": t.name, "sampling_ratio": str(t.sampling_ratio)} for t in v.supervision
            ],
        }
        for v in services.policy.versions
    ]
