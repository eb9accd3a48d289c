"""The credit office's figures on a small data set, computed by hand: records in, report rows
out, then the timeliness and completeness figures of a period, by authority, region and sector.

The data set (records recorded at 10:00 Beijing time, 02:00 UTC, so each is recorded on the day
named; 2026: 10-01 to 10-07 off for 国庆节, 10-10 a working Saturday):

| record | authority | subject (sectors) | decided | recorded | due | late by |
|---|---|---|---|---|---|---|
| P1 penalty | A | S1 (road_transport) | 09-30 | 10-15 | 10-15 | on time |
| P2 penalty | A | S1 | 09-30 | 10-16 | 10-15 | 1 |
| L1 licence | A | S2 (taxi, road_transport) | 09-30 | 10-17 (a Saturday) | 10-15 | 2 |
| P3 penalty, no optional field | B | S2 | 10-12 | 10-12 | 10-21 | on time |
| P4 penalty, no optional field | C (another city) | S1 | 10-20 | 10-20 | 10-29 | on time |
| I1 inspection (no row: not counted) | A | S1 | 10-12 | 11-30 | - | - |

S1 is an enterprise, S2 a person. Indicators: a penalty has 21 (CF_XDR_MC, CF_XDR_LB, the
subject's code, CF_FRDB, CF_WSH, CF_WFXW, CF_SY, CF_YJ, CF_CFLB, CF_NR, CF_NR_FK, CF_NR_WFFF,
CF_NR_ZKDX, CF_JDRQ, CF_YXQ, CF_GSJZQ, CF_CFJG, CF_CFJGDM, CF_SJLY, CF_SJLYDM, BZ), 12 of them
mandatory; a person's penalty 20 (no legal representative, CF_FRDB). A licence has 18, a
person's 17.

- P1, P2: the mandatory fields and a fine, 13 of 21 (61.90 %): complete at 60 %.
- P4: the mandatory fields only, 12 of 21 (57.14 %): below 60 %.
- P3: a person's, the mandatory fields only, 12 of 20: exactly 60 %, complete.
- L1: a person's licence with every field it can have, 17 of 17."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from domain.codes import make_uscc
from domain.events import (
    AdministrativeInspectionConducted,
    LicenceGranted,
    PenaltyDecided,
    RecordCorrected,
    RecordRevoked,
    SubjectRegistered,
)
from domain.policy import PolicyBook, parse_policy
from domain.report_periods import ReportPeriod
from domain.working_days import WorkingDayCalendar
from projections.credit_file.projector import CreditFileProjector
from projections.report_records.projector import ReportRecordProjector
from projections.report_records.scope import ReportScope
from projections.runner import Projector
from projections.tables import REPORT_SECTOR_COLUMNS, report_record_sectors, report_records
from service.commanding.importing.columns import national_indicators
from service.policy.loader import load_policy, read_policy_data
from service.reporting.completeness import completeness_report
from service.reporting.timeliness import timeliness_report
from service.store.database import Database
from service.store.migrations import upgrade
from service.store.read_store import sync_engine
from tests.builders import ADMINISTRATIVE_CONTENT, stored_event

pytestmark = pytest.mark.projections
BOOK = load_policy()
ZONE = ZoneInfo("Asia/Shanghai")
A = make_uscc("11410100MB0000001")
B = make_uscc("11410100MB0000002")
C = make_uscc("11410200MB0000003")
NAMES = {A: "郑州市交通运输综合执法支队", B: "郑州市交通运输局", C: "开封市交通运输局"}
S1, S2 = UUID(int=1), UUID(int=2)
P1, P2, L1, P3, P4, I1 = (UUID(int=100 + n) for n in range(6))
SEPTEMBER = ReportPeriod(date(2026, 9, 1), date(2026, 9, 30))
OCTOBER = ReportPeriod(date(2026, 10, 1), date(2026, 10, 31))


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T02:00:00").replace(tzinfo=UTC)


class Log:
    """The events of the data set, each subject's versions in order."""

    def __init__(self) -> None:
        self.events: list = []
        self.versions: dict[UUID, int] = {}
        self.projected = 0  # how many of the events the read models have

    def next(self, subject: UUID) -> int:
        self.versions[subject] = self.versions.get(subject, 0) + 1
        return self.versions[subject]

    def register(self, subject: UUID, kind: str, code: str, sectors: list[str]) -> None:
        self.events.append(
            stored_event(
                SubjectRegistered,
                originator_id=subject,
                originator_version=self.next(subject),
                timestamp=at("2026-01-05"),
                originator_topic="domain.subject:Subject",
                kind=kind,
                code=code,
                code_masked=code,
                name=f"主体{subject.int}",
                region_code="410105",
                sectors=sectors,
                recorded_by="t",
            )
        )

    def record(
        self,
        event_class,
        subject: UUID,
        record_id: UUID,
        authority: str,
        decided: str,
        recorded: str,
        **fields,
    ) -> None:
        self.events.append(
            stored_event(
                event_class,
                originator_id=subject,
                originator_version=self.next(subject),
                timestamp=at(recorded),
                record_id=record_id,
                decision_date=date.fromisoformat(decided),
                authority_name=NAMES[authority],
                authority_code=authority,
                source_ref=f"文号-{record_id.int}",
                recorded_by="t",
                request_key=None,
                **fields,
            )
        )

    def penalty(self, subject, record_id, authority, decided, recorded, **fields) -> None:
        content = {
            "severity": "general",
            "procedure": "general",
            "violation_type": "超限运输",
            "facts": "车辆超限 30% 行驶高速公路",
            "legal_basis": "《公路安全保护条例》第六十四条",
            "penalty_categories": ["罚款"],
            "content": "罚款人民币贰万元",
            "fine_amount": Decimal("2.0"),
        }
        self.record(
            PenaltyDecided, subject, record_id, authority, decided, recorded, **(content | fields)
        )


def data_set() -> Log:
    log = Log()
    log.register(S1, "enterprise", "91410105MA00000016", ["road_transport"])
    log.register(S2, "individual", "410105********0030", ["taxi", "road_transport"])
    log.penalty(S1, P1, A, "2026-09-30", "2026-10-15")
    log.penalty(S1, P2, A, "2026-09-30", "2026-10-16")
    log.record(
        LicenceGranted,
        S2,
        L1,
        A,
        "2026-09-30",
        "2026-10-17",
        licence_type="普通",
        document_name="道路运输经营许可证",
        content="出租汽车经营",
        valid_from=date(2026, 9, 30),
        valid_until=date(2030, 9, 29),
        certificate_name="道路运输经营许可证",
        licence_number="豫A-0001",
        data_source_name=NAMES[A],
        data_source_code=A,
        remarks="新办",
    )
    log.penalty(S2, P3, B, "2026-10-12", "2026-10-12", fine_amount=None)
    log.penalty(S1, P4, C, "2026-10-20", "2026-10-20", fine_amount=None)
    log.record(
        AdministrativeInspectionConducted,
        S1,
        I1,
        A,
        "2026-10-12",
        "2026-11-30",
        **ADMINISTRATIVE_CONTENT["AdministrativeInspectionConducted"],
    )
    return log


def correction(log: Log, target: UUID, recorded: str, changes: dict, subject: UUID = S1) -> None:
    log.record(
        RecordCorrected,
        subject,
        UUID(int=900 + len(log.events)),
        A,
        recorded,
        recorded,
        target_record_id=target,
        changes=changes,
        reason="更正",
    )


@pytest.fixture
def engine(empty_sqlite: Database):
    database = empty_sqlite
    engine = sync_engine(database)
    yield engine
    engine.dispose()


def project(engine, log: Log, policy: PolicyBook = BOOK, page: int = 1000) -> None:
    projectors: list[Projector] = [
        CreditFileProjector(policy),
        ReportRecordProjector(policy, WorkingDayCalendar(), ZONE, national_indicators()),
    ]
    events = list(enumerate(log.events, start=1))
    log.projected = len(events)
    for start in range(0, len(events), page):
        for projector in projectors:
            with engine.begin() as conn:
                projector.apply(conn, events[start : start + page])


def rows(engine) -> dict[UUID, dict]:
    with engine.connect() as conn:
        return {r["record_id"]: dict(r) for r in conn.execute(select(report_records)).mappings()}


def test_each_record_is_due_on_the_seventh_working_day_after_its_decision(engine):
    project(engine, data_set())
    found = rows(engine)
    timely = {
        record_id: (row["due_on"], row["on_time"], row["days_late"])
        for record_id, row in found.items()
    }
    assert timely[P1] == (date(2026, 10, 15), True, 0)
    assert timely[P2] == (date(2026, 10, 15), False, 1)
    assert timely[L1] == (date(2026, 10, 15), False, 2)  # a Saturday counts as the Monday
    assert timely[P3] == (date(2026, 10, 21), True, 0)
    assert timely[P4] == (date(2026, 10, 29), True, 0)
    # No policy version counts inspections, and the standard names no fields of theirs.
    assert I1 not in found
    assert found[P3]["region_code"] == "410100" and found[P4]["region_code"] == "410200"
    assert {r["policy_version"] for r in found.values()} == {"2026-36"}


def measured(row: dict) -> tuple:
    return row["fields_filled"], row["fields_total"], row["complete"], row["missing_fields"]


def test_each_record_counts_the_standards_indicator_fields_it_fills(engine):
    project(engine, data_set())
    found = rows(engine)
    unfilled = "CF_NR_WFFF,CF_NR_ZKDX,CF_YXQ,CF_GSJZQ,CF_SJLY,CF_SJLYDM,BZ"
    assert measured(found[P1]) == (13, 21, True, f"CF_FRDB,{unfilled}")
    # Only what the service requires of a penalty: below 60 % for an organisation's ...
    assert measured(found[P4]) == (12, 21, False, f"CF_FRDB,CF_NR_FK,{unfilled}")
    # ... exactly 60 % for a person's, which has no legal representative to lack.
    assert measured(found[P3]) == (12, 20, True, f"CF_NR_FK,{unfilled}")
    assert measured(found[L1]) == (17, 17, True, "")
    with engine.connect() as conn:
        sectors = {(r.record_id, r.sector) for r in conn.execute(select(report_record_sectors))}
    assert {s for r, s in sectors if r == L1} == {"taxi", "road_transport"}


def test_timeliness_of_a_month_by_authority(engine):
    project(engine, data_set())
    report = timeliness_report(engine, BOOK, ReportScope(SEPTEMBER))
    assert (report.decided, report.on_time, report.late, report.rate) == (
        3,
        1,
        2,
        Decimal("33.33"),
    )
    assert (report.deadline_days, report.working_days, report.families) == (
        7,
        True,
        ("licence", "penalty"),
    )
    [group] = report.groups
    assert (group.key, group.name, group.decided, group.on_time, group.rate) == (
        A,
        NAMES[A],
        3,
        1,
        Decimal("33.33"),
    )
    assert [(r.record_id, r.days_late, r.recorded_on) for r in group.late_records] == [
        (L1, 2, date(2026, 10, 17)),
        (P2, 1, date(2026, 10, 16)),
    ]
    october = timeliness_report(engine, BOOK, ReportScope(OCTOBER))
    # The inspection is not a family the figure counts: two penalties, both on time.
    assert (october.decided, october.on_time, october.rate) == (2, 2, Decimal("100.00"))
    assert [(g.key, g.decided) for g in october.groups] == [(B, 1), (C, 1)]


def test_timeliness_by_region_and_by_sector(engine):
    project(engine, data_set())
    by_region = timeliness_report(engine, BOOK, ReportScope(OCTOBER, group_by="region"))
    assert [(g.key, g.decided, g.on_time) for g in by_region.groups] == [
        ("410100", 1, 1),
        ("410200", 1, 1),
    ]
    city = timeliness_report(engine, BOOK, ReportScope(OCTOBER, region="4102"))
    assert (city.decided, [g.key for g in city.groups]) == (1, [C])
    by_sector = timeliness_report(engine, BOOK, ReportScope(SEPTEMBER, group_by="sector"))
    # The licence's subject works in two sectors: the licence counts in each, once in all.
    assert [(g.key, g.decided, g.on_time, g.rate) for g in by_sector.groups] == [
        ("road_transport", 3, 1, Decimal("33.33")),
        ("taxi", 1, 0, Decimal("0.00")),
    ]
    assert (by_sector.decided, by_sector.on_time) == (3, 1)
    # The late records of each sector, the most late first, looked up with their details.
    assert [
        (g.key, [(r.record_id, r.days_late, r.source_ref) for r in g.late_records])
        for g in by_sector.groups
    ] == [
        ("road_transport", [(L1, 2, f"文号-{L1.int}"), (P2, 1, f"文号-{P2.int}")]),
        ("taxi", [(L1, 2, f"文号-{L1.int}")]),
    ]


def test_a_recorder_sees_only_its_authorities(engine):
    project(engine, data_set())
    mine = timeliness_report(engine, BOOK, ReportScope(OCTOBER, authorities=frozenset({B})))
    assert (mine.decided, [g.key for g in mine.groups]) == (1, [B])
    none = timeliness_report(engine, BOOK, ReportScope(OCTOBER, authorities=frozenset()))
    assert (none.decided, none.rate, none.groups) == (0, None, ())


def test_a_correction_of_the_decision_date_moves_a_record_to_another_month(engine):
    log = data_set()
    project(engine, log)
    before = timeliness_report(engine, BOOK, ReportScope(SEPTEMBER))
    # P2 was decided on 10-09 (a Friday), not 09-30: due 10-19 (10-10 is a working Saturday),
    # so, recorded 10-16, it was on time; and it is October's now.
    correction(log, P2, "2026-11-02", {"decision_date": "2026-10-09"})
    project_again(engine, log, BOOK)
    after = timeliness_report(engine, BOOK, ReportScope(SEPTEMBER))
    assert (before.decided, before.on_time, before.corrected) == (3, 1, 0)
    assert (after.decided, after.on_time, after.rate, after.corrected) == (
        2,
        1,
        Decimal("50.00"),
        0,
    )
    october = timeliness_report(engine, BOOK, ReportScope(OCTOBER))
    assert (october.decided, october.on_time, october.corrected) == (3, 3, 1)
    row = rows(engine)[P2]
    assert (row["due_on"], row["on_time"], row["recorded_on"], row["correction_count"]) == (
        date(2026, 10, 19),
        True,
        date(2026, 10, 16),
        1,
    )
    assert row["corrected_at"] is not None


def threshold(share: float) -> PolicyBook:
    changed = copy.deepcopy(read_policy_data())
    for version in changed["version"]:
        version["reporting"]["completeness"]["threshold"] = share
    return parse_policy(changed)


def test_completeness_at_the_default_threshold(engine):
    project(engine, data_set())
    report = completeness_report(engine, BOOK, ReportScope(OCTOBER))
    assert report.threshold == Decimal("0.6")
    # P3 (12 of 20) is complete, P4 (12 of 21) is not.
    assert (report.records, report.complete, report.rate) == (2, 1, Decimal("50.00"))
    # Both lack the fine and the seven optional fields after it; only P4 lacks CF_FRDB. Ties
    # go by column.
    assert [(f.column, f.records) for f in report.most_missing] == [
        ("BZ", 2),
        ("CF_GSJZQ", 2),
        ("CF_NR_FK", 2),
        ("CF_NR_WFFF", 2),
        ("CF_NR_ZKDX", 2),
    ]
    assert (report.most_missing[0].title, report.most_missing[2].title) == (
        "备注",
        "罚款金额（万元）",
    )


def test_a_record_exactly_at_the_threshold_is_complete(engine, tmp_path):
    project(engine, data_set())  # P3 fills 12 of 20: exactly the default 60 %
    assert rows(engine)[P3]["complete"] is True
    stricter = threshold(0.65)
    database = Database.from_url(f"sqlite:///{tmp_path}/stricter.sqlite3")
    upgrade(database)
    other = sync_engine(database)
    project(other, data_set(), stricter)
    assert rows(other)[P3]["complete"] is False
    report = completeness_report(other, stricter, ReportScope(OCTOBER))
    assert (report.records, report.complete, report.incomplete) == (2, 0, 2)
    other.dispose()


def test_a_penalty_with_every_field_of_the_standard_is_complete_and_corrections_count(engine):
    log = data_set()
    full = UUID(int=200)
    log.penalty(
        S1,
        full,
        A,
        "2026-11-02",
        "2026-11-02",
        confiscated_amount=Decimal("0.5"),
        licence_action="道路运输证 豫A-0002 暂扣30日",
        declared_publication_end=date(2027, 11, 1),
        legal_representative="张建国",
        effective_until=date(2027, 11, 1),
        data_source_name=NAMES[A],
        data_source_code=A,
        remarks="当事人已履行",
    )
    project(engine, log)
    assert measured(rows(engine)[full]) == (21, 21, True, "")
    # Emptying the remarks leaves 20 of 21; filling P3's fine, a person's, 13 of its 20.
    correction(log, full, "2026-11-03", {"remarks": None})
    correction(log, P3, "2026-11-03", {"fine_amount": "0.02"}, subject=S2)
    project_again(engine, log, BOOK)
    found = rows(engine)
    assert measured(found[full]) == (20, 21, True, "BZ")
    assert measured(found[P3])[:3] == (13, 20, True)


def test_records_below_the_threshold_by_authority_and_a_correction_that_fills_them(engine):
    policy = BOOK  # 60 %: P4 (57.14 %) is below, P3 (60 %) reaches it
    log = data_set()
    project(engine, log, policy)
    report = completeness_report(engine, policy, ReportScope(OCTOBER), top_missing=2)
    assert (report.records, report.complete, report.incomplete, report.rate) == (
        2,
        1,
        1,
        Decimal("50.00"),
    )
    by_authority = {g.key: g for g in report.groups}
    assert (by_authority[B].rate, by_authority[C].rate) == (Decimal("100.00"), Decimal("0.00"))
    [below] = by_authority[C].incomplete_records
    assert (below.record_id, below.fields_filled, below.fields_total, below.share) == (
        P4,
        12,
        21,
        Decimal("57.14"),
    )
    assert [m.column for m in below.missing] == [
        "CF_FRDB",
        "CF_NR_FK",
        "CF_NR_WFFF",
        "CF_NR_ZKDX",
        "CF_YXQ",
        "CF_GSJZQ",
        "CF_SJLY",
        "CF_SJLYDM",
        "BZ",
    ]
    assert [(m.column, m.records) for m in by_authority[C].most_missing] == [
        ("BZ", 1),
        ("CF_FRDB", 1),
    ]
    log.record(
        RecordCorrected,
        S1,
        UUID(int=999),
        C,
        "2026-11-03",
        "2026-11-03",
        target_record_id=P4,
        changes={"fine_amount": "1.5"},
        reason="补录罚款金额",
    )
    log.record(
        RecordRevoked,
        S2,
        UUID(int=998),
        B,
        "2026-11-03",
        "2026-11-03",
        target_record_id=P3,
        reason="复议撤销",
    )
    project_again(engine, log, policy)
    after = completeness_report(engine, policy, ReportScope(OCTOBER))
    # Filled, P4 reaches 13 of 21 (61.90 %); the revoked penalty still counts (it was decided).
    assert (after.records, after.complete, after.corrected) == (2, 2, 1)
    assert rows(engine)[P3]["revoked"] is True


def project_again(engine, log: Log, policy: PolicyBook) -> None:
    """Apply the events after those already applied (the runner's next page)."""
    done = log.projected
    rest = list(enumerate(log.events[done:], start=done + 1))
    log.projected = len(log.events)
    for projector in (
        CreditFileProjector(policy),
        ReportRecordProjector(policy, WorkingDayCalendar(), ZONE, national_indicators()),
    ):
        with engine.begin() as conn:
            projector.apply(conn, rest)


def test_a_rebuild_in_pages_of_one_gives_the_same_rows(engine, tmp_path):
    log = data_set()
    correction(log, P2, "2026-11-02", {"decision_date": "2026-10-09"})
    project(engine, log)
    other = sync_engine(Database.from_url(f"sqlite:///{tmp_path}/other.sqlite3"))
    upgrade(Database.from_url(f"sqlite:///{tmp_path}/other.sqlite3"))
    project(other, log, page=1)
    assert rows(other) == rows(engine)
    other.dispose()


def sector_rows(engine) -> dict[tuple[UUID, str], dict]:
    with engine.connect() as conn:
        return {
            (row["record_id"], row["sector"]): dict(row)
            for row in conn.execute(select(report_record_sectors)).mappings()
        }


def joined_by_sector(engine, period: ReportPeriod) -> dict[str, tuple[int, int, int, int]]:
    """Each sector's (decided, on time, measured, complete) as the figures counted them before
    the sector rows carried their records' columns: the report rows joined to their sectors."""
    r, s = report_records.c, report_record_sectors.c
    found: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for row in conn.execute(
            select(s.sector, r.timeliness_counted, r.on_time, r.fields_total, r.complete)
            .join_from(report_records, report_record_sectors, r.record_id == s.record_id)
            .where(r.decision_date.between(period.first, period.last))
        ):
            counts = found.setdefault(row.sector, [0, 0, 0, 0])
            counts[0] += row.timeliness_counted
            counts[1] += row.timeliness_counted and row.on_time
            counts[2] += row.fields_total > 0
            counts[3] += bool(row.complete)
    return {sector: tuple(counts) for sector, counts in found.items()}  # type: ignore[misc]


def by_sector(engine, period: ReportPeriod) -> dict[str, tuple[int, int, int, int]]:
    scope = ReportScope(period, group_by="sector")
    timely = {g.key: (g.decided, g.on_time) for g in timeliness_report(engine, BOOK, scope).groups}
    complete = {
        g.key: (g.records, g.complete) for g in completeness_report(engine, BOOK, scope).groups
    }
    return {sector: (*timely[sector], *complete[sector]) for sector in timely}


def test_completeness_by_sector_counts_a_record_in_each_of_its_sectors_and_once_in_all(engine):
    project(engine, data_set())
    report = completeness_report(engine, BOOK, ReportScope(OCTOBER, group_by="sector"))
    # P3 (S2: taxi and road transport) is complete at 12 of 20; P4 (S1: road transport) is not.
    assert [(g.key, g.records, g.complete, g.rate) for g in report.groups] == [
        ("road_transport", 2, 1, Decimal("50.00")),
        ("taxi", 1, 1, Decimal("100.00")),
    ]
    assert (report.records, report.complete, report.rate) == (2, 1, Decimal("50.00"))
    groups = {g.key: g for g in report.groups}
    assert [r.record_id for r in groups["road_transport"].incomplete_records] == [P4]
    assert groups["taxi"].incomplete_records == ()
    assert [(f.column, f.records) for f in groups["taxi"].most_missing][:2] == [
        ("BZ", 1),
        ("CF_GSJZQ", 1),
    ]
    # Overall each record lacks the remarks once, though P3 lacks them in two sectors.
    assert [(f.column, f.records) for f in report.most_missing][:2] == [("BZ", 2), ("CF_GSJZQ", 2)]


def test_a_correction_updates_every_sector_row_of_its_record(engine):
    log = data_set()
    project(engine, log)
    assert by_sector(engine, SEPTEMBER) == joined_by_sector(engine, SEPTEMBER)
    assert by_sector(engine, OCTOBER) == {"road_transport": (2, 2, 2, 1), "taxi": (1, 1, 1, 1)}
    # L1 (S2: taxi and road transport) was decided on 10-12, a Monday, not 09-30: due 10-21,
    # so, recorded 10-17, on time; and it had no remarks: 16 of its 17 fields.
    correction(log, L1, "2026-11-02", {"decision_date": "2026-10-12", "remarks": ""}, subject=S2)
    project_again(engine, log, BOOK)
    carried = {
        sector: (
            row["decision_date"],
            row["on_time"],
            row["days_late"],
            row["fields_filled"],
            row["fields_total"],
            row["missing_fields"],
            row["complete"],
            row["correction_count"],
        )
        for (record_id, sector), row in sector_rows(engine).items()
        if record_id == L1
    }
    corrected = (date(2026, 10, 12), True, 0, 16, 17, "BZ", True, 1)
    assert carried == {"taxi": corrected, "road_transport": corrected}
    # Every sector row carries what its record's row says, the other records' untouched.
    records = rows(engine)
    for (record_id, _), row in sector_rows(engine).items():
        assert {c: row[c] for c in REPORT_SECTOR_COLUMNS} == {
            c: records[record_id][c] for c in REPORT_SECTOR_COLUMNS
        }
    # September keeps P1 and P2 (S1: road transport); October gains the licence in both.
    assert by_sector(engine, SEPTEMBER) == {"road_transport": (2, 1, 2, 2)}
    assert by_sector(engine, OCTOBER) == {"road_transport": (3, 3, 3, 2), "taxi": (2, 2, 2, 2)}
    for period in (SEPTEMBER, OCTOBER):
        assert by_sector(engine, period) == joined_by_sector(engine, period)


def test_a_record_corrected_in_the_page_that_records_it_gets_sector_rows_as_corrected(engine):
    log = data_set()
    correction(log, L1, "2026-11-02", {"decision_date": "2026-10-12"}, subject=S2)
    project(engine, log)  # one page: the licence and its correction together
    assert {
        sector: (row["decision_date"], row["on_time"], row["correction_count"])
        for (record_id, sector), row in sector_rows(engine).items()
        if record_id == L1
    } == {
        "taxi": (date(2026, 10, 12), True, 1),
        "road_transport": (date(2026, 10, 12), True, 1),
    }


def test_the_migration_fills_the_sector_rows_of_records_projected_before_it(engine, tmp_path):
    from alembic import command
    from service.store.migrations import alembic_config

    log = data_set()
    correction(log, L1, "2026-11-02", {"decision_date": "2026-10-12", "remarks": ""}, subject=S2)
    project(engine, log)
    older = Database.from_url(f"sqlite:///{tmp_path}/older.sqlite3")
    command.upgrade(alembic_config(older), "0016")
    before = sync_engine(older)
    with before.begin() as conn:
        conn.execute(report_records.insert(), list(rows(engine).values()))
        conn.execute(
            text(
                "INSERT INTO report_record_sectors (record_id, sector, subject_id) "
                "VALUES (:record_id, :sector, :subject_id)"
            ),
            [
                {"record_id": r.hex, "sector": s, "subject_id": row["subject_id"].hex}
                for (r, s), row in sector_rows(engine).items()
            ],
        )
    before.dispose()
    upgrade(older)
    after = sync_engine(older)
    assert sector_rows(after) == sector_rows(engine)
    assert by_sector(after, OCTOBER) == by_sector(engine, OCTOBER)
    after.dispose()
