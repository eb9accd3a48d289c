"""The API against its own OpenAPI document: schemathesis generates valid and invalid requests
for every operation, once per role and once without a token, and every answer must be
documented (status code, content type, body, headers), none may be a server error, and the
projections must still be running afterwards.

It runs on both backends: PostgreSQL refuses what SQLite stores (a NUL in text, integers past
64 bits), and those were the server errors it found. A few examples per operation keep it to a
few seconds per role; FUZZ_EXAMPLES=60 runs it deeper by hand."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.commanding.cases import STEPS, ObjectionApplication, RepairApplication
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.settings import Settings
from tests.builders import AUTHORITY_CODE, enterprise, individual, penalty, rating

pytestmark = pytest.mark.api

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,  # an invalid request must get a 4xx
]
ROLES = ["recorder", "agency", "auditor", "admin", None]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The usual test settings, with rate limits out of the way of a few hundred requests."""
    return settings.model_copy(
        update={
            "read_your_writes_timeout_seconds": 1,
            "rate_limit_burst": 100_000,
            "applicant_burst": 100_000,
            "token_address_burst": 100_000,
            "token_client_burst": 100_000,
            "feed_max_wait_seconds": 0.1,  # a generated long poll need not hold up the run
        }
    )


@pytest.fixture
def app(settings: Settings, services) -> Iterator[Any]:
    from api.app import create_app

    app = create_app(settings, services=services)
    yield app
    asgi.shutdown_lifespans()  # schemathesis started the app's lifespan on its first request


def seed(services) -> dict[str, Any]:
    """Subjects, records, an open repair case, an open objection and a checkpoint, so that the
    generated requests can also name things that exist."""
    company, person = enterprise(801), individual(802)
    known: dict[str, Any] = {"codes": [company["code"], person["code"]], "subjects": []}
    records = {}
    for body, recorded in (
        (company, [rating("FZ-R"), penalty("FZ-P", decision_date="2026-06-01")]),
        (person, [penalty("FZ-Q", decision_date="2026-06-01")]),
    ):
        subject_id = services.files.register(RegisterSubject(**body), recorded_by="seed").subject_id
        known["subjects"].append(str(subject_id))
        for record in recorded:
            command = record_command_adapter.validate_python(record)
            ack = services.files.append(subject_id, command, recorded_by="seed")
            records[record["source_ref"]] = ack.record_id
    services.runner.catch_up()
    repair = services.cases.apply_for_repair(
        RepairApplication(
            subject_code=company["code"],
            record_id=records["FZ-P"],
            corrections=["罚款已缴纳"],
            commitment_signed=True,
            applicant="郑州宏达道路运输有限公司",
        )
    )
    objection = services.cases.file_objection(
        ObjectionApplication(
            subject_code=person["code"],
            record_id=records["FZ-Q"],
            grounds="wrong_content",
            statement="记录有误",
            applicant="王建国",
        )
    )
    known["cases"] = {case.case_number: case.query_code for case in (repair, objection)}
    services.runner.catch_up()
    known["tree_size"] = services.checkpoints.make().tree_size
    services.clients.create("spare-client", "agency", "郑州市交通运输局", AUTHORITY_CODE)
    return known


def strategies(operation, known: dict[str, Any]) -> list:
    """Generated requests (valid and invalid), and valid ones that name what exists, so that
    the handlers get past their look-ups."""
    found = [
        operation.as_strategy(),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    ]

    def naming(**fixed: Any) -> None:
        found.append(operation.as_strategy(**fixed))

    path = operation.path
    parameters = {parameter.name for parameter in operation.path_parameters}
    if "subject_id" in parameters:
        for subject_id in known["subjects"]:
            naming(path_parameters={"subject_id": subject_id})
    if "case_number" in parameters:
        for number in known["cases"]:
            for action in STEPS:
                naming(path_parameters={"case_number": number, "action": action})
    if "tree_size" in parameters:
        naming(path_parameters={"tree_size": known["tree_size"]})
    if "client_id" in parameters:
        naming(path_parameters={"client_id": "spare-client"})
    if path in ("/v1/cases:progress", "/v1/cases:supply"):
        for number, code in known["cases"].items():
            body = {"case_number": number, "query_code": code}
            naming(body=body if path.endswith("progress") else {**body, "evidence": ["补正.pdf"]})
    if path == "/v1/subjects:lookup":
        naming(body={"code": known["codes"][0]})
    if path == "/v1/status:batch":
        naming(body={"codes": [*known["codes"], "not-a-code"]})
    if path == "/v1/audit/proofs/inclusion":
        naming(query={"position": 1})
    if path == "/v1/audit/export":
        naming(query={"subject_id": known["subjects"][0]})
    return found


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES, ids=[role or "no-token" for role in ROLES])
def test_every_answer_is_documented_and_none_is_a_server_error(role, app, services, role_headers):
    known = seed(services)
    headers = role_headers[role] if role else {}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the schema of every operation loads
        operation = result.ok()

        @hypothesis_settings(
            max_examples=EXAMPLES,
            derandomize=True,  # the same requests on every run: CI fails only on a change
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, unshrunk
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies(operation, known)))
        def fuzz(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as failure:  # report every operation's failures
            failures.append(f"{operation.label}: {failure}")
    assert services.runner.failure is None, services.runner.failure
    assert not failures, "\n\n".join(failures)
