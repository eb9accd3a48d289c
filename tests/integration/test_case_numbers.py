"""Case numbers (案件编号) cannot collide: a counter per kind and day hands them out, whatever
the randomness, the threads or the processes; and a duplicate that reaches the cases projector
anyway (events appended directly) stops that projector alone, named on /health."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from uuid import uuid4

import pytest
from sqlalchemy import func, select

from projections.runner import ProjectionFailed
from projections.tables import cases
from service.access.tables import case_number_series, case_streams
from service.commanding.cases import CASE_NUMBER, CaseNumbers, ObjectionApplication, code_hash
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.store.database import Database
from service.store.read_store import sync_engine
from tests.builders import enterprise, penalty

pytestmark = pytest.mark.integration
DAY = date(2026, 11, 20)  # the fixed clock's Beijing day


def company_with_records(services, serial: int, records: int) -> tuple[dict, list]:
    company = enterprise(serial)
    sid = services.files.register(RegisterSubject(**company), recorded_by="t").subject_id
    ids = [
        services.files.append(
            sid,
            record_command_adapter.validate_python(penalty(f"CN-{serial}-{n}")),
            recorded_by="t",
        ).record_id
        for n in range(records)
    ]
    services.runner.catch_up()
    return company, ids


def objection(company: dict, record_id) -> ObjectionApplication:
    return ObjectionApplication(
        subject_code=company["code"],
        record_id=record_id,
        grounds="wrong_content",
        statement="金额有误",
        applicant="公司",
    )


def case_count(services) -> int:
    with services.write_engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(cases)).scalar_one()


def test_numbers_are_distinct_even_when_randomness_repeats_itself(services, monkeypatch):
    """The old generator drew six random digits: with the draw fixed, two filings got one
    number. The serial does not depend on any draw."""
    monkeypatch.setattr("secrets.randbelow", lambda n: 7)
    company, records = company_with_records(services, 301, 3)
    filed = [services.cases.file_objection(objection(company, r)) for r in records]
    numbers = [f.case_number for f in filed]
    assert numbers == ["YY20261120000001", "YY20261120000002", "YY20261120000003"]
    assert all(CASE_NUMBER.fullmatch(n) and len(n) == 16 for n in numbers)
    services.runner.catch_up()
    assert case_count(services) == 3
    for f in filed:  # each applicant finds their own case with their own query code
        assert services.case_queries.for_applicant(f.case_number, f.query_code)["case_number"] == (
            f.case_number
        )


def test_each_kind_and_day_has_its_own_series(services):
    numbers = CaseNumbers(services.write_engine)
    assert numbers.allocate("XF", DAY) == "XF20261120000001"
    assert numbers.allocate("YY", DAY) == "YY20261120000001"
    assert numbers.allocate("XF", date(2026, 11, 21)) == "XF20261121000001"
    assert numbers.allocate("XF", DAY) == "XF20261120000002"


def test_concurrent_allocations_in_two_processes_worth_of_engines_never_repeat(services, settings):
    """Eight threads over two engines (as two API processes would have) take 400 numbers of
    one series at once: 400 distinct serials, 1 to 400."""
    other_engine = sync_engine(Database.from_url(settings.database_url))
    desks = [CaseNumbers(services.write_engine), CaseNumbers(other_engine)]
    start = threading.Barrier(8)

    def take(n: int) -> list[str]:
        start.wait()
        return [desks[n % 2].allocate("YY", DAY) for _ in range(50)]

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            taken = [number for batch in pool.map(take, range(8)) for number in batch]
    finally:
        other_engine.dispose()
    assert len(taken) == len(set(taken)) == 400
    assert sorted(int(n[-6:]) for n in taken) == list(range(1, 401))


def test_concurrent_filings_are_each_acknowledged_with_their_own_number(services):
    company, records = company_with_records(services, 302, 12)
    with ThreadPoolExecutor(max_workers=6) as pool:
        filed = list(
            pool.map(lambda r: services.cases.file_objection(objection(company, r)), records)
        )
    numbers = [f.case_number for f in filed]
    assert len(set(numbers)) == 12
    services.runner.catch_up()  # no UNIQUE violation stops the cases projector
    assert case_count(services) == 12
    assert all(state.failure is None for state in services.runner.states().values())


def test_a_series_at_its_last_serial_refuses_and_writes_nothing(services):
    with services.write_engine.begin() as conn:
        conn.execute(case_number_series.insert().values(series="YY20261120", last_serial=999_999))
    company, records = company_with_records(services, 303, 1)
    head = services.ledger.recorder.max_notification_id()
    from domain.errors import CaseNumbersExhausted

    with pytest.raises(CaseNumbersExhausted):
        services.cases.file_objection(objection(company, records[0]))
    assert services.ledger.recorder.max_notification_id() == head


async def test_a_duplicate_number_appended_directly_stops_only_the_cases_projector(
    client, services
):
    """Events written around the case desk can still carry one number twice: the cases
    projector stops on the second, named on /health with its position, type and error; the
    credit file goes on serving reads that wait on it; an operator's recorded skip resumes it."""
    services.runner.stop()  # this test steps the runner itself
    company, records = company_with_records(services, 304, 2)
    subject_id = services.files.subject_id_for_any_code(company["code"])

    def file_with_number(record_id, number: str) -> int:
        return services.files.act(
            subject_id,
            lambda subject: subject.file_objection(
                case_id=uuid4(),
                case_number=number,
                query_code_hash=code_hash(number, "ABCD2345"),
                target_record_id=record_id,
                grounds="wrong_content",
                statement="金额有误",
                evidence=[],
                applicant="公司",
                recorded_at=services.files.clock.now(),
            ),
        ).position

    file_with_number(records[0], "YY20261120000009")
    duplicate = file_with_number(records[1], "YY20261120000009")
    later = services.files.append(
        subject_id, record_command_adapter.validate_python(penalty("CN-AFTER")), recorded_by="t"
    ).position
    with pytest.raises(ProjectionFailed, match="projector cases failed on position"):
        services.runner.catch_up()
    states = services.runner.states()
    assert states["credit_file"].position == later and states["credit_file"].failure is None
    assert states["cases"].position == duplicate - 1
    assert states["cases"].failure.position == duplicate
    assert states["cases"].failure.event_type == "ObjectionFiled"
    assert "case_number" in states["cases"].failure.error  # the UNIQUE constraint, named
    assert case_count(services) == 1

    health = await client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded"
    failed = body["projections"]["projectors"]["cases"]
    assert failed["status"] == "failed" and failed["position"] == duplicate - 1
    assert failed["failure"]["position"] == duplicate
    assert failed["failure"]["event_type"] == "ObjectionFiled"
    assert "INSERT" not in failed["failure"]["error"]  # no statement, no parameters
    assert body["projections"]["projectors"]["credit_file"]["status"] == "ok"
    status = await client.get(f"/v1/subjects/{subject_id}/status", params={"min_position": later})
    assert status.status_code == 200, status.text
    stuck = await client.post(
        "/v1/cases:progress",
        json={"case_number": "YY20261120000009", "query_code": "ABCD2345"},
        params={"min_position": duplicate},
    )
    assert stuck.status_code == 503
    assert stuck.json()["type"].endswith("/projection-stopped")
    assert stuck.headers["retry-after"] == "30"

    skip = services.runner.skip(
        "cases", duplicate, reason="second filing reused YY20261120000009", by="ops"
    )
    assert skip.event_type == "ObjectionFiled"
    services.runner.catch_up()
    assert services.runner.position("cases") == later and case_count(services) == 1
    health = (await client.get("/health")).json()
    assert health["status"] == "ok"
    assert health["projections"]["projectors"]["cases"]["skipped"][0]["position"] == duplicate


def test_the_streams_of_cases_filed_before_are_found_in_the_event_store(services, settings):
    """Cases filed before the `case_streams` table: the migration takes each number's stream
    from the filing events (not from the cases read model, which may be behind: here it has
    none of them), and a number filed twice keeps its first filing's stream, as the read model
    keeps its first case."""
    from alembic import command
    from service.access.permissions import RecordingPermit
    from service.store.migrations import alembic_config
    from tests.builders import AUTHORITY_CODE

    services.runner.stop()
    first, first_records = company_with_records(services, 305, 2)
    second, second_records = company_with_records(services, 306, 1)
    filed = [services.cases.file_objection(objection(first, r)) for r in first_records]
    second_id = services.files.subject_id_for_any_code(second["code"])
    services.files.act(  # the first number again, appended around the case desk
        second_id,
        lambda subject: subject.file_objection(
            case_id=uuid4(),
            case_number=filed[0].case_number,
            query_code_hash=code_hash(filed[0].case_number, "ABCD2345"),
            target_record_id=second_records[0],
            grounds="wrong_content",
            statement="金额有误",
            evidence=[],
            applicant="公司",
            recorded_at=services.files.clock.now(),
        ),
    )
    config = alembic_config(Database.from_url(settings.database_url))
    command.downgrade(config, "0010")
    command.upgrade(config, "head")

    first_id = services.files.subject_id_for_any_code(first["code"])
    with services.write_engine.connect() as conn:
        query = select(case_streams.c.case_number, case_streams.c.subject_id)
        streams = {row.case_number: row.subject_id for row in conn.execute(query)}
    assert streams == {f.case_number: first_id for f in filed}
    assert case_count(services) == 0  # the read model had none of them
    permit = RecordingPermit(frozenset({AUTHORITY_CODE}), frozenset({"road_transport"}))
    for f in filed:
        services.cases.take_step(f.case_number, "accept", permit=permit, fields={})
    assert {c["status"] for c in services.ledger.subject(first_id).cases.values()} == {"accepted"}
