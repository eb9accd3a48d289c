"""Attack replays against administration (issue 12, item 5): an admin who gave itself an
auditor client and revealed ID numbers, leaving no trail. Every admin act is now in a chained
admin log that auditors read, and audit rights, admin rights and erasures need a second
administrator. Each on SQLite and PostgreSQL."""

from __future__ import annotations

from urllib.parse import quote
from uuid import UUID

import pytest
from sqlalchemy import func, select

from service.access.administration import Pending, cli_actor
from service.access.chained_log import GENESIS
from service.access.tables import access_log, admin_approvals, admin_log, api_clients
from tests.api.test_attack_logs import credit
from tests.builders import AUTHORITY_CODE, individual, penalty
from tests.conftest import ON_POSTGRESQL_ALONE

pytestmark = pytest.mark.api
ERASURE = {"reason": "本人撤回同意，申请删除个人信息（个人信息保护法第四十七条第一款第三项）"}


def new_client(client_id: str, role: str) -> dict:
    return {
        "client_id": client_id,
        "role": role,
        "agency_name": "郑州市交通运输局",
        "agency_code": AUTHORITY_CODE,
    }


def table_rows(services, table) -> list[dict]:
    with services.write_engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


def count(services, table) -> int:
    with services.write_engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


async def admin_log_entries(anonymous, role_headers) -> list[dict]:
    response = await anonymous.get(
        "/v1/audit/admin-log", params={"limit": 500}, headers=role_headers["auditor"]
    )
    assert response.status_code == 200
    return response.json()["entries"]


async def test_every_admin_act_is_in_the_chained_admin_log_with_its_actor(
    client, anonymous, role_headers, services, second_admin, settings
):
    admin = role_headers["admin"]
    person = (await client.post("/v1/subjects", json=individual(5))).json()
    created = await anonymous.post(
        "/v1/admin/clients", json=new_client("zz-agency", "agency"), headers=admin
    )
    assert created.status_code == 201
    reset = await anonymous.post("/v1/admin/clients/zz-agency:reset-secret", headers=admin)
    assert reset.status_code == 200 and reset.json()["client_secret"]
    disabled = await anonymous.post("/v1/admin/clients/zz-agency:disable", headers=admin)
    assert disabled.status_code == 200
    rotated = (await anonymous.post("/v1/admin/keys:rotate", headers=admin)).json()["kid"]
    asked = await anonymous.post(
        "/v1/admin/clients", json=new_client("zz-auditor", "auditor"), headers=admin
    )
    approval = asked.json()["approval_id"]
    approved = await anonymous.post(f"/v1/admin/approvals/{approval}:approve", headers=second_admin)
    assert approved.status_code == 200
    erase = await anonymous.post(
        f"/v1/admin/subjects/{person['subject_id']}:erase-personal-data",
        json=ERASURE,
        headers=admin,
    )
    erasure = erase.json()["approval_id"]
    assert (
        await anonymous.post(f"/v1/admin/approvals/{erasure}:approve", headers=second_admin)
    ).status_code == 200
    rotated_checkpoint_key = credit(settings, "audit", "rotate-key")
    assert rotated_checkpoint_key.returncode == 0, rotated_checkpoint_key.stderr
    cli_created = credit(
        settings,
        "clients",
        "create",
        "zz-cli-agency",
        "--role",
        "agency",
        "--agency-name",
        "某局",
        "--agency-code",
        AUTHORITY_CODE,
    )
    assert cli_created.returncode == 0, cli_created.stderr

    entries = await admin_log_entries(anonymous, role_headers)
    sid = person["subject_id"]
    key_id = entries[-2]["target"]
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("client:test-admin", "create-client", "zz-agency"),
        ("client:test-admin", "reset-secret", "zz-agency"),
        ("client:test-admin", "disable-client", "zz-agency"),
        ("client:test-admin", "rotate-signing-key", rotated),
        ("client:test-admin", "request-approval", "zz-auditor"),
        ("client:test-admin-2", "approve", "zz-auditor"),
        ("client:test-admin-2", "create-client", "zz-auditor"),
        ("client:test-admin", "request-approval", sid),
        ("client:test-admin-2", "approve", sid),
        ("client:test-admin-2", "erase-personal-data", sid),
        (cli_actor(), "rotate-checkpoint-key", key_id),
        (cli_actor(), "create-client", "zz-cli-agency"),
    ]
    assert entries[6]["details"] == {
        "role": "auditor",
        "agency_name": "郑州市交通运输局",
        "agency_code": AUTHORITY_CODE,
        "authority_codes": [],
        "sectors": [],
        "approval_id": approval,
        "requested_by": "client:test-admin",
        "approved_by": "client:test-admin-2",
    }
    assert not any("secret" in str(e["details"]).lower() for e in entries)
    # chained: each row's prev_hash is the hash before it, and the whole log verifies
    assert [e["prev_hash"] for e in entries] == [GENESIS] + [e["hash"] for e in entries[:-1]]
    assert [e["seq"] for e in entries] == list(range(1, 13))
    checkpoint = (
        await anonymous.post("/v1/audit/checkpoints", headers=role_headers["auditor"])
    ).json()
    assert checkpoint["logs"]["admin_log"] == {"seq": 12, "hash": entries[-1]["hash"]}
    verified = (
        await anonymous.get("/v1/audit/access-log:verify", headers=role_headers["auditor"])
    ).json()
    assert verified["ok"] and verified["admin_log"]["rows"] == 12


async def test_an_auditor_client_needs_a_second_admin_and_nothing_happens_before(
    anonymous, role_headers, services, second_admin
):
    admin = role_headers["admin"]
    asked = await anonymous.post(
        "/v1/admin/clients", json=new_client("self-audit", "auditor"), headers=admin
    )
    assert asked.status_code == 202
    body = asked.json()
    assert (body["state"], body["action"], body["target"], body["requested_by"]) == (
        "pending",
        "create-client",
        "self-audit",
        "client:test-admin",
    )
    # before the approval: no client, nothing to authenticate as
    clients = await anonymous.get("/v1/admin/clients", headers=admin)
    assert "self-audit" not in [c["client_id"] for c in clients.json()]
    listed = await anonymous.get("/v1/admin/approvals", headers=second_admin)
    assert [a["approval_id"] for a in listed.json()] == [body["approval_id"]]

    approve = f"/v1/admin/approvals/{body['approval_id']}:approve"
    log_before = count(services, admin_log)
    approvals_before = table_rows(services, admin_approvals)
    own = await anonymous.post(approve, headers=admin)
    assert own.status_code == 403
    assert own.json()["type"].endswith("/self-approval")
    assert count(services, admin_log) == log_before
    assert table_rows(services, admin_approvals) == approvals_before
    assert services.clients.get("self-audit") is None

    done = await anonymous.post(approve, headers=second_admin)
    assert done.status_code == 200
    result = done.json()
    assert (result["requested_by"], result["approved_by"]) == (
        "client:test-admin",
        "client:test-admin-2",
    )
    assert result["result"]["role"] == "auditor"
    secret = result["result"]["client_secret"]
    token = await anonymous.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("self-audit", secret),
    )
    assert token.status_code == 200 and "credit:audit" in token.json()["scope"]

    log_after = count(services, admin_log)
    again = await anonymous.post(approve, headers=second_admin)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/approval-not-pending")
    unknown = await anonymous.post(
        "/v1/admin/approvals/0b6f3c4e-8d3a-4f57-9a8e-2f1d3c4b5a69:approve", headers=second_admin
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/approval-not-found")
    assert count(services, admin_log) == log_after


@pytest.mark.parametrize("role", ["admin", "auditor"])
async def test_no_single_admin_makes_an_admin_or_takes_over_an_auditor(
    anonymous, role_headers, services, role
):
    """A second admin of one's own would approve anything; a reset secret hands the client
    over: both wait for a second administrator."""
    admin = role_headers["admin"]
    rows_before = table_rows(services, api_clients)
    made = await anonymous.post(
        "/v1/admin/clients", json=new_client(f"puppet-{role}", role), headers=admin
    )
    assert made.status_code == 202
    taken = await anonymous.post(f"/v1/admin/clients/test-{role}:reset-secret", headers=admin)
    assert taken.status_code == 202 and taken.json()["action"] == "reset-secret"
    assert table_rows(services, api_clients) == rows_before  # same secret hashes, no puppet


async def test_an_erasure_waits_for_a_second_admin(
    client, anonymous, role_headers, services, second_admin
):
    person = (await client.post("/v1/subjects", json=individual(6))).json()
    await client.post(f"/v1/subjects/{person['subject_id']}/events", json=penalty("ERASE-1"))
    admin, auditor = role_headers["admin"], role_headers["auditor"]
    reveal = f"/v1/subjects/{person['subject_id']}:reveal"
    asked = await anonymous.post(
        f"/v1/admin/subjects/{person['subject_id']}:erase-personal-data",
        json=ERASURE,
        headers=admin,
    )
    assert asked.status_code == 202 and asked.json()["action"] == "erase-personal-data"
    assert services.vault.erasable(UUID(person["subject_id"]))
    still = await anonymous.post(reveal, json={"purpose": "复核身份"}, headers=auditor)
    assert still.status_code == 200  # nothing was erased yet

    approve = f"/v1/admin/approvals/{asked.json()['approval_id']}:approve"
    own = await anonymous.post(approve, headers=admin)
    assert own.status_code == 403 and own.json()["type"].endswith("/self-approval")
    assert services.vault.erasable(UUID(person["subject_id"]))

    done = await anonymous.post(approve, headers=second_admin)
    assert done.status_code == 200
    assert done.json()["result"] == {"subject_id": person["subject_id"], "erased": True}
    gone = await anonymous.post(reveal, json={"purpose": "复核身份"}, headers=auditor)
    assert gone.status_code == 410
    nothing = await anonymous.post(
        f"/v1/admin/subjects/{person['subject_id']}:erase-personal-data",
        json=ERASURE,
        headers=admin,
    )
    assert nothing.status_code == 404  # no second request for what is gone


async def test_auditors_read_the_admin_log_and_no_one_else(anonymous, role_headers):
    await anonymous.post("/v1/admin/keys:rotate", headers=role_headers["admin"])
    assert len(await admin_log_entries(anonymous, role_headers)) == 1
    for role in ("admin", "recorder", "agency"):
        denied = await anonymous.get("/v1/audit/admin-log", headers=role_headers[role])
        assert denied.status_code == 403, role
        assert denied.json()["type"].endswith("/insufficient-scope")
        verify = await anonymous.get("/v1/audit/access-log:verify", headers=role_headers[role])
        assert verify.status_code == 403, role
    assert (await anonymous.get("/v1/audit/admin-log")).status_code == 401


async def test_a_bad_request_writes_nothing_to_the_admin_log(anonymous, role_headers, services):
    admin = role_headers["admin"]
    bad = await anonymous.post(
        "/v1/admin/clients", json=new_client("Not An Id", "auditor"), headers=admin
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-client")
    taken = await anonymous.post(
        "/v1/admin/clients", json=new_client("test-agency", "auditor"), headers=admin
    )
    assert taken.status_code == 422  # exists already: no approval is asked for
    unknown = await anonymous.post(
        "/v1/admin/subjects/0b6f3c4e-8d3a-4f57-9a8e-2f1d3c4b5a69:erase-personal-data",
        json=ERASURE,
        headers=admin,
    )
    assert unknown.status_code == 404
    assert count(services, admin_log) == 0
    assert count(services, admin_approvals) == 0


@ON_POSTGRESQL_ALONE
def test_four_eyes_at_the_command_line_needs_another_os_user(services, settings):
    asked = credit(
        settings,
        "clients",
        "create",
        "cli-auditor",
        "--role",
        "auditor",
        "--agency-name",
        "某局",
        "--agency-code",
        AUTHORITY_CODE,
        user="alice",
    )
    assert asked.returncode == 0, asked.stderr
    [approval_line] = [
        line for line in asked.stdout.splitlines() if line.startswith("approval_id=")
    ]
    approval = approval_line.removeprefix("approval_id=")
    assert services.clients.get("cli-auditor") is None

    own = credit(settings, "admin", "approve", approval, user="alice")
    assert own.returncode == 2
    assert "cli:alice asked for this create-client" in own.stderr
    assert services.clients.get("cli-auditor") is None

    other = credit(settings, "admin", "approve", approval, user="bob")
    assert other.returncode == 0, other.stderr
    assert "client_secret=" in other.stdout
    assert services.clients.get("cli-auditor").role == "auditor"
    with services.write_engine.connect() as conn:
        logged = conn.execute(
            select(admin_log.c.actor, admin_log.c.action).order_by(admin_log.c.seq)
        ).all()
    assert [tuple(r) for r in logged] == [
        ("cli:alice", "request-approval"),
        ("cli:bob", "approve"),
        ("cli:bob", "create-client"),
    ]


def test_the_demo_bootstrap_creates_its_clients_logged_as_the_demo(services, settings, monkeypatch):
    import service.bootstrap
    import service.cli

    for module in (service.cli, service.bootstrap):  # the CLI's and its services' settings
        monkeypatch.setattr(module, "get_settings", lambda: settings)
    first = service.cli._print_demo_clients()
    second = service.cli._print_demo_clients()  # a restart renews every secret
    assert first != second
    assert services.clients.get("demo-auditor").role == "auditor"
    with services.write_engine.connect() as conn:
        logged = conn.execute(
            select(
                admin_log.c.actor, admin_log.c.action, admin_log.c.target, admin_log.c.details
            ).order_by(admin_log.c.seq)
        ).all()
    assert [(a, act, t) for a, act, t, _ in logged] == [
        ("demo-bootstrap", "create-client", "demo-admin"),
        ("demo-bootstrap", "create-client", "demo-recorder"),
        ("demo-bootstrap", "create-client", "demo-agency"),
        ("demo-bootstrap", "create-client", "demo-auditor"),
        ("demo-bootstrap", "create-client", "demo-credit_office"),
        ("demo-bootstrap", "reset-secret", "demo-admin"),
        ("demo-bootstrap", "reset-secret", "demo-recorder"),
        ("demo-bootstrap", "reset-secret", "demo-agency"),
        ("demo-bootstrap", "reset-secret", "demo-auditor"),
        ("demo-bootstrap", "reset-secret", "demo-credit_office"),
    ]
    assert logged[3].details["four_eyes_waived"] == "demo mode"
    assert count(services, admin_approvals) == 0


async def test_reading_the_admin_log_is_not_an_access_log_read(anonymous, role_headers, services):
    await anonymous.get(
        "/v1/audit/admin-log", headers={**role_headers["auditor"], "X-Purpose": quote("审计")}
    )
    assert count(services, access_log) == 0


async def test_a_second_admin_refuses_an_erasure_and_it_is_never_carried_out(
    client, anonymous, role_headers, services, second_admin
):
    person = (await client.post("/v1/subjects", json=individual(7))).json()
    admin = role_headers["admin"]
    erase = f"/v1/admin/subjects/{person['subject_id']}:erase-personal-data"
    for blank in ({}, {"reason": "删"}, {"reason": "    \t  "}):
        refused = await anonymous.post(erase, json=blank, headers=admin)
        assert refused.status_code == 422, blank
    assert count(services, admin_approvals) == 0
    asked = (await anonymous.post(erase, json=ERASURE, headers=admin)).json()
    [listed] = (await anonymous.get("/v1/admin/approvals", headers=admin)).json()
    assert listed["reason"] == ERASURE["reason"]
    assert listed["refuse_at"] == f"/v1/admin/approvals/{asked['approval_id']}:refuse"

    refuse = listed["refuse_at"]
    why = {"reason": "申请人身份未经核实，请补充材料后重新申请"}
    own = await anonymous.post(refuse, json=why, headers=admin)
    assert own.status_code == 403 and own.json()["type"].endswith("/self-approval")
    assert (await anonymous.post(refuse, json={}, headers=second_admin)).status_code == 422
    refused = await anonymous.post(refuse, json=why, headers=second_admin)
    assert refused.status_code == 200, refused.text
    assert refused.json() == {
        "approval_id": asked["approval_id"],
        "state": "refused",
        "action": "erase-personal-data",
        "target": person["subject_id"],
        "requested_by": "client:test-admin",
        "refused_by": "client:test-admin-2",
        "reason": why["reason"],
    }
    assert (await anonymous.get("/v1/admin/approvals", headers=admin)).json() == []
    late = await anonymous.post(listed["approve_at"], headers=second_admin)
    assert late.status_code == 409 and late.json()["type"].endswith("/approval-not-pending")
    assert services.vault.erasable(UUID(person["subject_id"]))
    entries = await admin_log_entries(anonymous, role_headers)
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("client:test-admin", "request-approval"),
        ("client:test-admin-2", "refuse"),
    ]
    assert entries[0]["details"]["request"]["reason"] == ERASURE["reason"]
    assert entries[1]["details"]["reason"] == why["reason"]


@ON_POSTGRESQL_ALONE
def test_a_refusal_at_the_command_line_needs_another_os_user_and_a_reason(services, settings):
    asked = services.administration.create_client(
        "cli:alice", "cli-admin", "admin", "某局", AUTHORITY_CODE
    )
    assert isinstance(asked, Pending)
    approval = str(asked.approval_id)
    own = credit(settings, "admin", "refuse", approval, "--reason", "不再需要", user="alice")
    assert own.returncode == 2 and "a different administrator must decide it" in own.stderr
    short = credit(settings, "admin", "refuse", approval, "--reason", "否", user="bob")
    assert short.returncode == 2 and "a reason of 4 to 200 characters" in short.stderr
    other = credit(settings, "admin", "refuse", approval, "--reason", "未经处务会研究", user="bob")
    assert other.returncode == 0, other.stderr
    assert services.administration.approvals() == [] and services.clients.get("cli-admin") is None
