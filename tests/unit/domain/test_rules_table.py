"""The credit rules as tables: a history in, a status out, one row per case.

Every expected value below is written out by hand from the regulations and the shipped policy
(service/policy/credit-policy.toml), never computed by the code under test:

1. grades: band boundaries of every scheme, a rating's grade agreeing with its score, then
   deductions, black list and the rise cap;
2. publication windows by severity and era (527号 until 2023-04-30, 令第58号 from 2023-05-01,
   令第36号 from 2026-04-01), and the severity of a penalty by its procedure and categories;
3. list memberships and supervision tiers, the red-list criteria, and the policy version named;
4. working-day deadlines around the 2026 holidays and into 2027 (no official data yet);
5. an applicant without an account naming a decision on the subject's file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import NamedTuple
from uuid import uuid4

import pytest

from domain.credit_status import RecordFact, evaluate, red_list_obstacles
from domain.errors import InvalidInput, RecordNotFound
from domain.events import PenaltyDecided, RatingIssued
from domain.publication import (
    DECLARED,
    SERVICE_DEFAULT,
    Window,
    conduct_publication,
    earliest_repair_date,
    record_window,
)
from domain.working_days import WorkingDayCalendar
from service.policy.loader import load_policy
from tests.builders import AUTHORITY, registered_enterprise

pytestmark = pytest.mark.domain
BOOK = load_policy()

ON = date(2026, 11, 20)  # the evaluation day unless a row says otherwise (policy 2026-36)
RATED = date(2026, 3, 1)  # the usual rating: valid 2026-03-01 to 2027-03-01
UNTIL = date(2027, 3, 1)
FAR = date(2030, 1, 1)

HIGHWAY, ROAD, DRIVER, SECTOR = (
    "highway_construction",
    "road_transport_quality",
    "driver_integrity",
    "sector_default",
)


# --- history builders ---------------------------------------------------------------------


def rating(scheme, grade, score, decided=RATED, until=UNTIL, record_id="R"):
    """An official rating, valid from its decision date; `score` is deducted points for
    driver_integrity."""
    return RecordFact(
        record_id,
        "RatingIssued",
        decided,
        scheme=scheme,
        grade=grade,
        score=Decimal(score),
        valid_from=decided,
        valid_until=until,
    )


def conduct(
    severity,
    decided,
    record_id,
    kind="PenaltyDecided",
    state="active",
    publish_until=FAR,
):
    """Conduct published from its decision date until `publish_until` (None: never published)."""
    return RecordFact(
        record_id,
        kind,
        decided,
        state=state,
        severity=severity,
        publish_from=decided if publish_until is not None else None,
        publish_until=publish_until,
    )


def listed(
    list_type, decided=date(2026, 6, 1), ended=None, planned_end=None, state="active", rests_on=None
):
    return RecordFact(
        f"L-{list_type}",
        "ListEntered",
        decided,
        state=state,
        list_type=list_type,
        basis="认定决定",
        basis_record_id=rests_on,
        ended_on=ended,
        planned_end=planned_end,
    )


def grade_in(status, scheme):
    found = [g for g in status.grades if g.scheme == scheme]
    assert len(found) <= 1
    return found[0] if found else None


# --- 1. grades ----------------------------------------------------------------------------


def band(scheme, score, grade):
    return pytest.param(scheme, score, grade, id=f"{scheme}-{score}-{grade}")


@pytest.mark.parametrize(
    ("scheme", "score", "expected"),
    [
        # 交公路发〔2009〕733号: 95-100 AA, 85-95 A, 75-85 B, 60-75 C, below 60 D
        band(HIGHWAY, "100", "AA"),
        band(HIGHWAY, "95", "AA"),
        band(HIGHWAY, "94.99", "A"),
        band(HIGHWAY, "85", "A"),
        band(HIGHWAY, "84.99", "B"),
        band(HIGHWAY, "75", "B"),
        band(HIGHWAY, "74.99", "C"),
        band(HIGHWAY, "60", "C"),
        band(HIGHWAY, "59.99", "D"),
        band(HIGHWAY, "0", "D"),
        # sector default AA/A/B/C/D, bands as 733号
        band(SECTOR, "100", "AA"),
        band(SECTOR, "95", "AA"),
        band(SECTOR, "94.99", "A"),
        band(SECTOR, "85", "A"),
        band(SECTOR, "84.99", "B"),
        band(SECTOR, "75", "B"),
        band(SECTOR, "74.99", "C"),
        band(SECTOR, "60", "C"),
        band(SECTOR, "59.99", "D"),
        # road transport quality (1000-point policy defaults): 850 AAA, 700 AA, 600 A, else B
        band(ROAD, "1000", "AAA"),
        band(ROAD, "850", "AAA"),
        band(ROAD, "849.99", "AA"),
        band(ROAD, "700", "AA"),
        band(ROAD, "699.99", "A"),
        band(ROAD, "600", "A"),
        band(ROAD, "599.99", "B"),
        band(ROAD, "0", "B"),
        # drivers (交运发〔2008〕280号), deducted points: 0 AAA, 1-10 AA, 11-19 A, 20+ B
        band(DRIVER, "0", "AAA"),
        band(DRIVER, "1", "AA"),
        band(DRIVER, "10", "AA"),
        band(DRIVER, "11", "A"),
        band(DRIVER, "19", "A"),
        band(DRIVER, "20", "B"),
        band(DRIVER, "36", "B"),
    ],
)
def test_grade_band_boundaries(scheme, score, expected):
    status = evaluate([rating(scheme, expected, score)], BOOK, ON)
    result = grade_in(status, scheme)
    assert result is not None
    assert (result.grade, result.value) == (expected, Decimal(score))
    assert (result.adjustments, result.capped_by, result.forced_by) == ((), None, None)
    assert [g.scheme for g in status.grades] == [scheme]  # no grade in a scheme never rated


def scored(scheme, grade, score, accepted):
    verdict = "recorded" if accepted else "refused"
    return pytest.param(scheme, grade, score, accepted, id=f"{scheme}-{grade}-{score}-{verdict}")


@pytest.mark.parametrize(
    ("scheme", "grade", "score", "accepted"),
    [
        # 733号: AA 95-100, A 85-95, ...: a grade stands only with a score in its own band
        scored(HIGHWAY, "AA", "95", True),
        scored(HIGHWAY, "AA", "94.99", False),
        scored(HIGHWAY, "A", "94.99", True),
        scored(HIGHWAY, "A", "95", False),
        scored(HIGHWAY, "A", "85", True),
        scored(HIGHWAY, "A", "84.99", False),
        scored(HIGHWAY, "D", "59.99", True),
        scored(HIGHWAY, "C", "59.99", False),
        scored(HIGHWAY, "AA", "100.01", False),  # off the 100-point scale
        scored(HIGHWAY, "AA", None, True),  # no score: taken at its grade
        scored(SECTOR, "AA", "94.99", False),
        scored(ROAD, "AAA", "850", True),
        scored(ROAD, "AAA", "849.99", False),
        scored(ROAD, "B", "0", True),
        # drivers: deducted points, 0 AAA, 1-10 AA, 11-19 A, 20+ B
        scored(DRIVER, "AAA", "0", True),
        scored(DRIVER, "AAA", "1", False),
        scored(DRIVER, "AA", "10", True),
        scored(DRIVER, "A", "10", False),
        scored(DRIVER, "B", "20", True),
        scored(DRIVER, "A", "20", False),
        scored(DRIVER, "AA", "10.5", False),  # points are whole
        scored(DRIVER, "B", None, True),
    ],
)
def test_a_rating_is_recorded_only_with_a_score_in_its_grades_band(scheme, grade, score, accepted):
    subject = registered_enterprise(uuid4(), recorded_at=datetime(2026, 11, 20, 4, tzinfo=UTC))
    subject.collect_events()
    fields = {
        **AUTHORITY,
        "source_ref": "评-1",
        "decision_date": RATED,
        "scheme": scheme,
        "grade": grade,
        "score": None if score is None else Decimal(score),
        "valid_from": RATED,
        "valid_until": UNTIL,
    }
    record = partial(
        subject.record,
        RatingIssued,
        fields,
        record_id=uuid4(),
        recorded_by="t",
        request_key=None,
        today=ON,
        recorded_at=datetime(2026, 11, 20, 4, tzinfo=UTC),
        policy=BOOK,
    )
    if accepted:
        assert record().created
        return
    with pytest.raises(InvalidInput) as refused:
        record()
    assert refused.value.rule == "rating-score-in-grade-band"
    assert subject.collect_events() == []


class Graded(NamedTuple):
    grade: str
    value: str | None
    deductions: tuple[tuple[str, str], ...] = ()  # (record_id, amount)
    capped_by: str | None = None
    forced_by: str | None = None


CAP = "highway_construction.rise_cap.grades_per_cycle = 1"


def forced(scheme):
    return f"{scheme}.adjustments.black_list_forces_lowest_grade"


def history(case_id, facts, scheme, expected, on=ON):
    return pytest.param(facts, on, scheme, expected, id=case_id)


@pytest.mark.parametrize(
    ("facts", "on", "scheme", "expected"),
    [
        # deductions (动态调整) after the rating move the value and, across a boundary, the grade
        history(
            "highway-AA96-minor-1-lands-on-95-stays-AA",
            [rating(HIGHWAY, "AA", "96"), conduct("minor", date(2026, 5, 1), "C1")],
            HIGHWAY,
            Graded("AA", "95", (("C1", "1"),)),
        ),
        history(
            "highway-AA96-general-5-drops-to-A-91",
            [rating(HIGHWAY, "AA", "96"), conduct("general", date(2026, 5, 1), "C1")],
            HIGHWAY,
            Graded("A", "91", (("C1", "5"),)),
        ),
        history(
            "highway-A85.5-minor-1-drops-to-B-84.5",
            [rating(HIGHWAY, "A", "85.5"), conduct("minor", date(2026, 5, 1), "C1")],
            HIGHWAY,
            Graded("B", "84.5", (("C1", "1"),)),
        ),
        history(
            "highway-A88-two-general-drop-to-B-78",
            [
                rating(HIGHWAY, "A", "88"),
                conduct("general", date(2026, 5, 1), "C1"),
                conduct("general", date(2026, 6, 1), "C2"),
            ],
            HIGHWAY,
            Graded("B", "78", (("C1", "5"), ("C2", "5"))),
        ),
        history(
            "highway-B80-serious-15-drops-to-C-65",
            [rating(HIGHWAY, "B", "80"), conduct("serious", date(2026, 5, 1), "C1")],
            HIGHWAY,
            Graded("C", "65", (("C1", "15"),)),
        ),
        history(
            "highway-D10-serious-floors-at-0",
            [rating(HIGHWAY, "D", "10"), conduct("serious", date(2026, 5, 1), "C1")],
            HIGHWAY,
            Graded("D", "0", (("C1", "15"),)),
        ),
        history(
            "sector-AA95-minor-1-drops-to-A-94",
            [rating(SECTOR, "AA", "95"), conduct("minor", date(2026, 5, 1), "C1")],
            SECTOR,
            Graded("A", "94", (("C1", "1"),)),
        ),
        history(
            "road-AAA860-minor-10-lands-on-850-stays-AAA",
            [rating(ROAD, "AAA", "860"), conduct("minor", date(2026, 5, 1), "C1")],
            ROAD,
            Graded("AAA", "850", (("C1", "10"),)),
        ),
        history(
            "road-AAA860-general-50-drops-to-AA-810",
            [rating(ROAD, "AAA", "860"), conduct("general", date(2026, 5, 1), "C1")],
            ROAD,
            Graded("AA", "810", (("C1", "50"),)),
        ),
        history(
            "road-AA720-serious-150-drops-to-B-570",
            [rating(ROAD, "AA", "720"), conduct("serious", date(2026, 5, 1), "C1")],
            ROAD,
            Graded("B", "570", (("C1", "150"),)),
        ),
        history(
            "driver-AAA0-minor-adds-1-point-to-AA",
            [rating(DRIVER, "AAA", "0"), conduct("minor", date(2026, 5, 1), "C1")],
            DRIVER,
            Graded("AA", "1", (("C1", "1"),)),
        ),
        history(
            "driver-AA8-general-adds-3-points-to-A-11",
            [rating(DRIVER, "AA", "8"), conduct("general", date(2026, 5, 1), "C1")],
            DRIVER,
            Graded("A", "11", (("C1", "3"),)),
        ),
        history(
            "driver-A17-general-adds-3-points-to-B-20",
            [rating(DRIVER, "A", "17"), conduct("general", date(2026, 5, 1), "C1")],
            DRIVER,
            Graded("B", "20", (("C1", "3"),)),
        ),
        history(
            "driver-A12-serious-adds-10-points-to-B-22",
            [rating(DRIVER, "A", "12"), conduct("serious", date(2026, 5, 1), "C1")],
            DRIVER,
            Graded("B", "22", (("C1", "10"),)),
        ),
        history(
            "dishonest-conduct-recorded-is-deducted",
            [
                rating(HIGHWAY, "A", "88"),
                conduct("general", date(2026, 5, 1), "D1", kind="DishonestConductRecorded"),
            ],
            HIGHWAY,
            Graded("B", "83", (("D1", "5"),)),
        ),
        history(
            "breached-commitment-is-deducted",
            [
                rating(HIGHWAY, "A", "88"),
                conduct("serious", date(2026, 5, 1), "B1", kind="CommitmentBreached"),
            ],
            HIGHWAY,
            Graded("C", "73", (("B1", "15"),)),
        ),
        # what is not deducted
        history(
            "conduct-before-the-rating-is-already-in-it",
            [conduct("serious", date(2026, 2, 1), "C0"), rating(HIGHWAY, "A", "88")],
            HIGHWAY,
            Graded("A", "88"),
        ),
        history(
            "revoked-conduct-is-not-deducted",
            [
                rating(HIGHWAY, "A", "88"),
                conduct("serious", date(2026, 5, 1), "C1", state="revoked"),
            ],
            HIGHWAY,
            Graded("A", "88"),
        ),
        history(
            "conduct-after-the-evaluation-day-is-not-deducted-yet",
            [rating(HIGHWAY, "A", "88"), conduct("serious", date(2026, 12, 1), "C1")],
            HIGHWAY,
            Graded("A", "88"),
        ),
        # the black list forces the lowest grade while it lasts
        history(
            "black-list-forces-highway-AA97-to-D",
            [rating(HIGHWAY, "AA", "97"), listed("black")],
            HIGHWAY,
            Graded("D", "97", forced_by=forced(HIGHWAY)),
        ),
        history(
            "black-list-forces-road-AAA900-to-B",
            [rating(ROAD, "AAA", "900"), listed("black")],
            ROAD,
            Graded("B", "900", forced_by=forced(ROAD)),
        ),
        history(
            "black-list-forces-driver-AAA0-to-B",
            [rating(DRIVER, "AAA", "0"), listed("black")],
            DRIVER,
            Graded("B", "0", forced_by=forced(DRIVER)),
        ),
        history(
            "black-list-exited-2026-10-01-no-longer-forces",
            [rating(HIGHWAY, "AA", "97"), listed("black", ended=date(2026, 10, 1))],
            HIGHWAY,
            Graded("AA", "97"),
        ),
        history(
            "black-list-planned-end-2026-10-01-passed-no-longer-forces",
            [rating(HIGHWAY, "AA", "97"), listed("black", planned_end=date(2026, 10, 1))],
            HIGHWAY,
            Graded("AA", "97"),
        ),
        # highway construction rises at most one grade a rating cycle, the calendar year
        # (733号: rated once a year; 逐级上升, one grade a year): the cap compares with the last
        # rating of an earlier cycle, whenever in the cycle either was issued
        history(
            "highway-C-then-AA-next-cycle-capped-at-B",
            [
                rating(HIGHWAY, "C", "70", date(2025, 9, 1), date(2026, 9, 1), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 8, 1), date(2027, 8, 1), "R2"),
            ],
            HIGHWAY,
            Graded("B", "96", capped_by=CAP),
        ),
        history(
            "highway-D-then-A-next-cycle-capped-at-C",
            [
                rating(HIGHWAY, "D", "50", date(2025, 10, 1), date(2026, 10, 1), "R1"),
                rating(HIGHWAY, "A", "90", date(2026, 8, 1), date(2027, 8, 1), "R2"),
            ],
            HIGHWAY,
            Graded("C", "90", capped_by=CAP),
        ),
        history(
            "highway-B-then-A-next-cycle-one-grade-is-allowed",
            [
                rating(HIGHWAY, "B", "80", date(2025, 10, 1), date(2026, 10, 1), "R1"),
                rating(HIGHWAY, "A", "90", date(2026, 8, 1), date(2027, 8, 1), "R2"),
            ],
            HIGHWAY,
            Graded("A", "90"),
        ),
        history(
            "highway-C-then-AA-exactly-twelve-months-later-capped-at-B",
            [
                rating(HIGHWAY, "C", "70", date(2025, 8, 1), date(2026, 8, 1), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 8, 1), date(2027, 8, 1), "R2"),
            ],
            HIGHWAY,
            Graded("B", "96", capped_by=CAP),
        ),
        history(
            "highway-C-then-AA-13-months-later-next-cycle-capped-at-B",
            [
                rating(HIGHWAY, "C", "70", date(2025, 7, 1), date(2026, 7, 1), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 8, 1), date(2027, 8, 1), "R2"),
            ],
            HIGHWAY,
            Graded("B", "96", capped_by=CAP),
        ),
        history(
            "highway-D-2025-03-01-then-AA-2026-03-20-capped-at-C",
            [
                rating(HIGHWAY, "D", "50", date(2025, 3, 1), date(2026, 3, 1), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 3, 20), date(2027, 3, 20), "R2"),
            ],
            HIGHWAY,
            Graded("C", "96", capped_by=CAP),
        ),
        history(
            "highway-D-early-2025-then-AA-late-2026-23-months-next-cycle-capped-at-C",
            [
                rating(HIGHWAY, "D", "50", date(2025, 1, 5), date(2026, 1, 5), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 12, 20), date(2027, 12, 20), "R2"),
            ],
            HIGHWAY,
            Graded("C", "96", capped_by=CAP),
            on=date(2026, 12, 21),
        ),
        history(
            "highway-C-2025-12-31-then-AA-2026-01-01-next-cycle-capped-at-B",
            [
                rating(HIGHWAY, "C", "70", date(2025, 12, 31), date(2026, 12, 31), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 1, 1), date(2027, 1, 1), "R2"),
            ],
            HIGHWAY,
            Graded("B", "96", capped_by=CAP),
        ),
        history(
            "highway-C-then-AA-in-the-same-cycle-answer-to-no-earlier-cycle-not-capped",
            [
                rating(HIGHWAY, "C", "70", date(2026, 1, 5), date(2027, 1, 5), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 8, 1), date(2027, 8, 1), "R2"),
            ],
            HIGHWAY,
            Graded("AA", "96"),
        ),
        history(
            "highway-B-2025-A-2026-then-AA-same-cycle-capped-at-A-by-2025",
            [
                rating(HIGHWAY, "B", "80", date(2025, 4, 1), date(2026, 4, 1), "R1"),
                rating(HIGHWAY, "A", "90", date(2026, 4, 1), date(2027, 4, 1), "R2"),
                rating(HIGHWAY, "AA", "96", date(2026, 9, 1), date(2027, 9, 1), "R3"),
            ],
            HIGHWAY,
            Graded("A", "96", capped_by=CAP),
        ),
        history(
            "highway-D-then-AA-two-cycles-later-two-grades-capped-at-B",
            [
                rating(HIGHWAY, "D", "50", date(2024, 3, 1), date(2025, 3, 1), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 3, 20), date(2027, 3, 20), "R2"),
            ],
            HIGHWAY,
            Graded("B", "96", capped_by=CAP),
        ),
        history(
            "highway-B-2024-12-31-then-AA-2026-01-01-two-cycles-not-capped",
            [
                rating(HIGHWAY, "B", "80", date(2024, 12, 31), date(2025, 12, 31), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 1, 1), date(2027, 1, 1), "R2"),
            ],
            HIGHWAY,
            Graded("AA", "96"),
        ),
        history(
            "highway-D-2024-AA-2025-held-at-C-then-AA-2026-capped-at-B",
            [
                rating(HIGHWAY, "D", "50", date(2024, 4, 1), date(2025, 4, 1), "R1"),
                rating(HIGHWAY, "AA", "96", date(2025, 4, 1), date(2026, 4, 1), "R2"),
                rating(HIGHWAY, "AA", "97", date(2026, 4, 1), date(2027, 4, 1), "R3"),
            ],
            HIGHWAY,
            Graded("B", "97", capped_by=CAP),
        ),
        history(
            "highway-revoked-earlier-rating-does-not-cap",
            [
                RecordFact(
                    "R1",
                    "RatingIssued",
                    date(2025, 9, 1),
                    state="revoked",
                    scheme=HIGHWAY,
                    grade="D",
                    score=Decimal("50"),
                    valid_from=date(2025, 9, 1),
                    valid_until=date(2026, 9, 1),
                ),
                rating(HIGHWAY, "AA", "96", date(2026, 8, 1), date(2027, 8, 1), "R2"),
            ],
            HIGHWAY,
            Graded("AA", "96"),
        ),
        history(
            "highway-capped-at-B-with-a-general-deduction-91-stays-B",
            [
                rating(HIGHWAY, "C", "70", date(2025, 9, 1), date(2026, 9, 1), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 8, 1), date(2027, 8, 1), "R2"),
                conduct("general", date(2026, 9, 15), "C1"),
            ],
            HIGHWAY,
            Graded("B", "91", (("C1", "5"),), capped_by=CAP),
        ),
        history(
            "highway-deductions-below-the-cap-C-66-not-capped",
            [
                rating(HIGHWAY, "C", "70", date(2025, 9, 1), date(2026, 9, 1), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 8, 1), date(2027, 8, 1), "R2"),
                conduct("serious", date(2026, 9, 15), "C1"),
                conduct("serious", date(2026, 10, 15), "C2"),
            ],
            HIGHWAY,
            Graded("C", "66", (("C1", "15"), ("C2", "15"))),
        ),
        history(
            "road-transport-has-no-rise-cap-B-then-AAA",
            [
                rating(ROAD, "B", "550", date(2025, 10, 1), date(2026, 10, 1), "R1"),
                rating(ROAD, "AAA", "900", date(2026, 8, 1), date(2027, 8, 1), "R2"),
            ],
            ROAD,
            Graded("AAA", "900"),
        ),
        history(
            "sector-default-has-no-rise-cap-C-then-AA",
            [
                rating(SECTOR, "C", "70", date(2025, 9, 1), date(2026, 9, 1), "R1"),
                rating(SECTOR, "AA", "96", date(2026, 8, 1), date(2027, 8, 1), "R2"),
            ],
            SECTOR,
            Graded("AA", "96"),
        ),
        # a rating recorded before its score was checked against its grade still loads: the
        # score decides (deductions apply to it), the issued grade stays its base; a score no
        # band holds tells nothing, and the rating stands on its grade as one without a score
        history(
            "stored-highway-AA-with-94.9-shows-the-A-its-score-is",
            [rating(HIGHWAY, "AA", "94.9")],
            HIGHWAY,
            Graded("A", "94.9"),
        ),
        history(
            "stored-highway-A-with-score-150-stands-at-A",
            [rating(HIGHWAY, "A", "150"), conduct("general", date(2026, 5, 1), "C1")],
            HIGHWAY,
            Graded("A", None, (("C1", "5"),)),
        ),
        history(
            "stored-driver-AA-with-10.5-points-stands-at-AA",
            [rating(DRIVER, "AA", "10.5")],
            DRIVER,
            Graded("AA", None),
        ),
        # a rating sets the grade for its validity only
        history(
            "rating-valid-the-day-before-valid-until",
            [rating(HIGHWAY, "A", "88", date(2025, 11, 20), date(2026, 11, 20))],
            HIGHWAY,
            Graded("A", "88"),
            on=date(2026, 11, 19),
        ),
        history(
            "rating-expired-no-grade-the-day-after-valid-until",
            [rating(HIGHWAY, "A", "88", date(2025, 11, 20), date(2026, 11, 20))],
            HIGHWAY,
            None,
            on=date(2026, 11, 21),
        ),
        history(
            "rating-not-yet-issued-no-grade",
            [rating(HIGHWAY, "A", "88", date(2026, 12, 1), date(2027, 12, 1))],
            HIGHWAY,
            None,
        ),
    ],
)
def test_grade_from_history(facts, on, scheme, expected):
    result = grade_in(evaluate(facts, BOOK, on), scheme)
    if expected is None:
        assert result is None
        return
    assert result is not None
    value = None if expected.value is None else Decimal(expected.value)
    assert (result.grade, result.value) == (expected.grade, value)
    assert [(a.record_id, a.amount) for a in result.adjustments] == [
        (record_id, Decimal(amount)) for record_id, amount in expected.deductions
    ]
    assert all(a.rule.startswith(f"{scheme}.adjustments.deduction.") for a in result.adjustments)
    assert (result.capped_by, result.forced_by) == (expected.capped_by, expected.forced_by)


# --- 2. publication windows ---------------------------------------------------------------


def penalty(
    severity, decided, procedure="general", declared_end=None, categories=("罚款",), action=None
):
    fields = {
        "decision_date": decided,
        "severity": severity,
        "procedure": procedure,
        "penalty_categories": list(categories),  # CF_CFLB
        "licence_action": action,  # CF_NR_ZKDX
    }
    if declared_end is not None:
        fields["declared_publication_end"] = declared_end  # CF_GSJZQ
    return fields


def shown(case_id, record_type, fields, start=None, end=None, never=False):
    expected = None if never else Window(start, end)
    return pytest.param(record_type, fields, expected, id=case_id)


P = "PenaltyDecided"


@pytest.mark.parametrize(
    ("record_type", "fields", "expected"),
    [
        # serious: at most 3 years in every era
        shown(
            "serious-2023-04-30-527-three-years",
            P,
            penalty("serious", date(2023, 4, 30)),
            date(2023, 4, 30),
            date(2026, 4, 30),
        ),
        shown(
            "serious-2023-05-01-order-58-three-years",
            P,
            penalty("serious", date(2023, 5, 1)),
            date(2023, 5, 1),
            date(2026, 5, 1),
        ),
        shown(
            "serious-2026-03-31-order-58-three-years",
            P,
            penalty("serious", date(2026, 3, 31)),
            date(2026, 3, 31),
            date(2029, 3, 31),
        ),
        shown(
            "serious-2026-04-01-order-36-three-years",
            P,
            penalty("serious", date(2026, 4, 1)),
            date(2026, 4, 1),
            date(2029, 4, 1),
        ),
        shown(
            "serious-dishonest-conduct-2026-04-01-three-years",
            "DishonestConductRecorded",
            {"decision_date": date(2026, 4, 1), "severity": "serious"},
            date(2026, 4, 1),
            date(2029, 4, 1),
        ),
        # general: at most 1 year under 527号 and 令第36号, 3 years under 令第58号
        shown(
            "general-2023-04-30-527-one-year",
            P,
            penalty("general", date(2023, 4, 30)),
            date(2023, 4, 30),
            date(2024, 4, 30),
        ),
        shown(
            "general-2023-05-01-order-58-three-years",
            P,
            penalty("general", date(2023, 5, 1)),
            date(2023, 5, 1),
            date(2026, 5, 1),
        ),
        shown(
            "general-2025-05-10-order-58-three-years",
            P,
            penalty("general", date(2025, 5, 10)),
            date(2025, 5, 10),
            date(2028, 5, 10),
        ),
        shown(
            "general-2026-03-31-order-58-three-years",
            P,
            penalty("general", date(2026, 3, 31)),
            date(2026, 3, 31),
            date(2029, 3, 31),
        ),
        shown(
            "general-2026-04-01-order-36-one-year",
            P,
            penalty("general", date(2026, 4, 1)),
            date(2026, 4, 1),
            date(2027, 4, 1),
        ),
        shown(
            "general-2026-06-15-one-year",
            P,
            penalty("general", date(2026, 6, 15)),
            date(2026, 6, 15),
            date(2027, 6, 15),
        ),
        shown(
            "general-breached-commitment-2026-03-31-order-58-three-years",
            "CommitmentBreached",
            {"decision_date": date(2026, 3, 31), "severity": "general"},
            date(2026, 3, 31),
            date(2029, 3, 31),
        ),
        shown(
            "general-breached-commitment-2026-04-01-order-36-one-year",
            "CommitmentBreached",
            {"decision_date": date(2026, 4, 1), "severity": "general"},
            date(2026, 4, 1),
            date(2027, 4, 1),
        ),
        # minor: not published
        shown(
            "minor-penalty-2026-06-15-not-published",
            P,
            penalty("minor", date(2026, 6, 15)),
            never=True,
        ),
        shown(
            "minor-dishonest-conduct-2025-06-15-not-published",
            "DishonestConductRecorded",
            {"decision_date": date(2025, 6, 15), "severity": "minor"},
            never=True,
        ),
        # simplified procedure (简易程序): minor, not published, in every era
        shown(
            "simplified-general-2023-04-30-not-published-under-527",
            P,
            penalty("general", date(2023, 4, 30), procedure="simplified"),
            never=True,
        ),
        shown(
            "simplified-general-2023-05-01-not-published-under-58",
            P,
            penalty("general", date(2023, 5, 1), procedure="simplified"),
            never=True,
        ),
        shown(
            "simplified-warning-2026-04-01-not-published-under-36",
            P,
            penalty("general", date(2026, 4, 1), procedure="simplified", categories=["警告"]),
            never=True,
        ),
        shown(
            "simplified-fine-serious-2026-04-01-minor-under-36",
            P,
            penalty("serious", date(2026, 4, 1), procedure="simplified"),
            never=True,
        ),
        # a warning or 通报批评 alone by ordinary procedure: general under 527号, minor after
        shown(
            "warning-alone-2023-04-30-general-under-527",
            P,
            penalty("general", date(2023, 4, 30), categories=["警告"]),
            date(2023, 4, 30),
            date(2024, 4, 30),
        ),
        shown(
            "warning-alone-2023-05-01-not-published-under-58",
            P,
            penalty("general", date(2023, 5, 1), categories=["警告"]),
            never=True,
        ),
        shown(
            "warning-and-criticism-2026-03-31-not-published-under-58",
            P,
            penalty("general", date(2026, 3, 31), categories=["警告", "通报批评"]),
            never=True,
        ),
        shown(
            "criticism-alone-2026-04-01-not-published-under-36",
            P,
            penalty("general", date(2026, 4, 1), categories=["通报批评"]),
            never=True,
        ),
        shown(
            "warning-and-fine-2026-04-01-general-under-36",
            P,
            penalty("general", date(2026, 4, 1), categories=["警告", "罚款"]),
            date(2026, 4, 1),
            date(2027, 4, 1),
        ),
        # 527号's 特定严重失信行为 (licence revoked, business suspended): the whole maximum, a
        # declared end notwithstanding; not so under 令第58号 and 令第36号
        shown(
            "licence-revoked-2023-04-30-527-whole-maximum-despite-declared-end",
            P,
            penalty(
                "serious",
                date(2023, 4, 30),
                declared_end=date(2024, 4, 30),
                action="吊销道路运输经营许可证",
            ),
            date(2023, 4, 30),
            date(2026, 4, 30),
        ),
        shown(
            "business-suspended-2023-04-30-527-whole-maximum",
            P,
            penalty(
                "serious",
                date(2023, 4, 30),
                declared_end=date(2023, 12, 31),
                categories=["罚款", "责令停产停业"],
            ),
            date(2023, 4, 30),
            date(2026, 4, 30),
        ),
        shown(
            "licence-revoked-2023-05-01-order-58-declared-end-kept",
            P,
            penalty(
                "serious",
                date(2023, 5, 1),
                declared_end=date(2024, 5, 1),
                action="吊销道路运输经营许可证",
            ),
            date(2023, 5, 1),
            date(2024, 5, 1),
        ),
        shown(
            "licence-revoked-2026-03-31-order-58-declared-end-kept",
            P,
            penalty(
                "serious",
                date(2026, 3, 31),
                declared_end=date(2027, 3, 31),
                categories=["吊销许可证件"],
            ),
            date(2026, 3, 31),
            date(2027, 3, 31),
        ),
        shown(
            "licence-revoked-2026-04-01-order-36-declared-end-kept",
            P,
            penalty(
                "serious",
                date(2026, 4, 1),
                declared_end=date(2027, 10, 1),
                categories=["吊销许可证件"],
            ),
            date(2026, 4, 1),
            date(2027, 10, 1),
        ),
        # declared end (CF_GSJZQ) kept within [minimum, maximum]
        shown(
            "declared-end-inside-general-range-kept",
            P,
            penalty("general", date(2026, 5, 1), declared_end=date(2026, 12, 31)),
            date(2026, 5, 1),
            date(2026, 12, 31),
        ),
        shown(
            "declared-end-on-general-minimum-kept",
            P,
            penalty("general", date(2026, 5, 1), declared_end=date(2026, 8, 1)),
            date(2026, 5, 1),
            date(2026, 8, 1),
        ),
        shown(
            "declared-end-below-general-minimum-raised-to-3-months",
            P,
            penalty("general", date(2026, 5, 1), declared_end=date(2026, 6, 1)),
            date(2026, 5, 1),
            date(2026, 8, 1),
        ),
        shown(
            "declared-end-above-general-maximum-cut-to-1-year",
            P,
            penalty("general", date(2026, 5, 1), declared_end=date(2028, 1, 1)),
            date(2026, 5, 1),
            date(2027, 5, 1),
        ),
        shown(
            "declared-end-9-months-serious-527-kept-minimum-6-months",
            P,
            penalty("serious", date(2022, 5, 1), declared_end=date(2023, 1, 31)),
            date(2022, 5, 1),
            date(2023, 1, 31),
        ),
        shown(
            "declared-end-4-months-serious-527-raised-to-6-months",
            P,
            penalty("serious", date(2022, 5, 1), declared_end=date(2022, 9, 1)),
            date(2022, 5, 1),
            date(2022, 11, 1),
        ),
        shown(
            "declared-end-4-months-serious-order-58-kept-minimum-3-months",
            P,
            penalty("serious", date(2025, 5, 1), declared_end=date(2025, 9, 1)),
            date(2025, 5, 1),
            date(2025, 9, 1),
        ),
        shown(
            "declared-end-2-months-general-order-58-raised-to-3-months",
            P,
            penalty("general", date(2025, 5, 1), declared_end=date(2025, 7, 1)),
            date(2025, 5, 1),
            date(2025, 8, 1),
        ),
        shown(
            "declared-end-3-years-general-order-58-kept-the-5-wan-fine",
            P,
            penalty(
                "general",
                date(2025, 11, 20),
                declared_end=date(2028, 11, 20),
                categories=["罚款", "没收违法所得"],
            ),
            date(2025, 11, 20),
            date(2028, 11, 20),
        ),
        shown(
            "declared-end-4-years-general-order-58-cut-to-3-years",
            P,
            penalty("general", date(2025, 11, 20), declared_end=date(2029, 11, 20)),
            date(2025, 11, 20),
            date(2028, 11, 20),
        ),
        shown(
            "declared-end-7-months-serious-order-36-raised-to-1-year",
            P,
            penalty("serious", date(2026, 5, 1), declared_end=date(2026, 12, 1)),
            date(2026, 5, 1),
            date(2027, 5, 1),
        ),
        # leap day: 12 months after 2024-02-29 is the last day of February 2025
        shown(
            "leap-day-2020-02-29-general-plus-12-months",
            P,
            penalty("general", date(2020, 2, 29)),
            date(2020, 2, 29),
            date(2021, 2, 28),
        ),
        shown(
            "leap-day-2024-02-29-serious-plus-36-months",
            P,
            penalty("serious", date(2024, 2, 29)),
            date(2024, 2, 29),
            date(2027, 2, 28),
        ),
        # other record types
        shown(
            "licence-published-for-its-validity",
            "LicenceGranted",
            {
                "decision_date": date(2026, 3, 10),
                "valid_from": date(2026, 3, 10),
                "valid_until": date(2031, 3, 10),
            },
            date(2026, 3, 10),
            date(2031, 3, 10),
        ),
        shown(
            "licence-without-end-published-open-ended",
            "LicenceGranted",
            {"decision_date": date(2026, 3, 10), "valid_from": date(2026, 3, 10)},
            date(2026, 3, 10),
            None,
        ),
        shown(
            "rating-published-for-its-validity-not-from-decision",
            "RatingIssued",
            {
                "decision_date": date(2026, 2, 20),
                "valid_from": date(2026, 3, 1),
                "valid_until": date(2027, 3, 1),
            },
            date(2026, 3, 1),
            date(2027, 3, 1),
        ),
        shown(
            "black-list-published-until-planned-end",
            "ListEntered",
            {
                "decision_date": date(2026, 6, 1),
                "list_type": "black",
                "planned_end": date(2029, 6, 1),
            },
            date(2026, 6, 1),
            date(2029, 6, 1),
        ),
        shown(
            "watch-list-not-published",
            "ListEntered",
            {"decision_date": date(2026, 6, 1), "list_type": "watch"},
            never=True,
        ),
        shown(
            "interview-not-published",
            "InterviewHeld",
            {"decision_date": date(2026, 6, 1)},
            never=True,
        ),
        # the further administrative information: as the policy names each kind's period
        shown(
            "administrative-reward-published-36-months",
            "AdministrativeRewardGranted",
            {"decision_date": date(2026, 3, 10)},
            date(2026, 3, 10),
            date(2029, 3, 10),
        ),
        shown(
            "administrative-inspection-published-36-months-leap-day",
            "AdministrativeInspectionConducted",
            {"decision_date": date(2024, 2, 29)},
            date(2024, 2, 29),
            date(2027, 2, 28),
        ),
        shown(
            "administrative-confirmation-2026-04-01-published-36-months",
            "AdministrativeConfirmationMade",
            {"decision_date": date(2026, 4, 1)},
            date(2026, 4, 1),
            date(2029, 4, 1),
        ),
        shown(
            "administrative-coercion-not-published",
            "AdministrativeCoercionApplied",
            {"decision_date": date(2026, 6, 1)},
            never=True,
        ),
        shown(
            "administrative-adjudication-not-published",
            "AdministrativeAdjudicationMade",
            {"decision_date": date(2025, 6, 1)},
            never=True,
        ),
    ],
)
def test_publication_window(record_type, fields, expected):
    assert record_window(record_type, fields, book=BOOK) == expected


@pytest.mark.parametrize(
    ("severity", "decided", "extra", "expected"),
    [
        # the minimum publication period differs by era: serious 6 months (527号), 3 months
        # (令第58号), 1 year (令第36号); general 3 months throughout
        pytest.param("serious", date(2023, 4, 30), {}, date(2023, 10, 30), id="serious-527-6m"),
        pytest.param("serious", date(2023, 5, 1), {}, date(2023, 8, 1), id="serious-58-3m"),
        pytest.param("serious", date(2026, 3, 31), {}, date(2026, 6, 30), id="serious-58-end-3m"),
        pytest.param("serious", date(2026, 4, 1), {}, date(2027, 4, 1), id="serious-36-12m"),
        pytest.param("general", date(2023, 4, 30), {}, date(2023, 7, 30), id="general-527-3m"),
        pytest.param("general", date(2023, 5, 1), {}, date(2023, 8, 1), id="general-58-3m"),
        pytest.param("general", date(2026, 3, 31), {}, date(2026, 6, 30), id="general-58-end-3m"),
        pytest.param("general", date(2026, 4, 1), {}, date(2026, 7, 1), id="general-36-3m"),
        pytest.param("serious", date(2020, 2, 29), {}, date(2020, 8, 29), id="serious-leap-6m"),
        pytest.param("general", date(2025, 11, 30), {}, date(2026, 2, 28), id="general-11-30"),
        pytest.param("minor", date(2026, 4, 1), {}, None, id="minor-nothing-to-repair"),
        pytest.param(
            "general",
            date(2026, 4, 1),
            {"procedure": "simplified"},
            None,
            id="simplified-36-nothing-to-repair",
        ),
        pytest.param(
            "general",
            date(2023, 5, 1),
            {"categories": ["警告"]},
            None,
            id="warning-alone-58-nothing-to-repair",
        ),
        # 527号's 特定严重失信行为: no repair before the whole maximum has run
        pytest.param(
            "serious",
            date(2023, 4, 30),
            {"licence_action": "吊销道路运输经营许可证"},
            date(2026, 4, 30),
            id="licence-revoked-527-only-at-the-maximum",
        ),
        pytest.param(
            "serious",
            date(2023, 5, 1),
            {"licence_action": "吊销道路运输经营许可证"},
            date(2023, 8, 1),
            id="licence-revoked-58-after-3m",
        ),
        pytest.param(
            "serious",
            date(2026, 4, 1),
            {"categories": ["吊销许可证件"]},
            date(2027, 4, 1),
            id="licence-revoked-36-after-12m",
        ),
    ],
)
def test_earliest_repair_date(severity, decided, extra, expected):
    assert earliest_repair_date(severity, decided, book=BOOK, **extra) == expected


# A penalty whose authority gave no severity (a national CF_* row): the policy in force on its
# decision date decides it, and says by which entry.
SEVERITY = "penalty_severity"


@pytest.mark.parametrize(
    ("declared", "decided", "extra", "severity", "rule"),
    [
        pytest.param(
            None, date(2026, 4, 1), {}, "general", SERVICE_DEFAULT, id="fine-alone-36-general"
        ),
        pytest.param(
            None,
            date(2026, 4, 1),
            {"licence_action": "吊销道路运输经营许可证"},
            "serious",
            f"{SEVERITY}.serious_when_any",
            id="licence-revoked-36-serious",
        ),
        pytest.param(
            None,
            date(2026, 3, 31),
            {"categories": ["罚款", "限制从业"]},
            "serious",
            f"{SEVERITY}.serious_when_any",
            id="practice-restricted-58-serious",
        ),
        pytest.param(
            None,
            date(2023, 4, 30),
            {"categories": ["罚款", "限制从业"]},
            "general",
            SERVICE_DEFAULT,
            id="practice-restricted-527-general",
        ),
        pytest.param(
            None,
            date(2023, 4, 30),
            {"categories": ["责令停业整顿"]},
            "serious",
            f"{SEVERITY}.serious_when_any",
            id="business-suspended-527-serious",
        ),
        pytest.param(
            None,
            date(2026, 4, 1),
            {"categories": ["警告"]},
            "minor",
            f"{SEVERITY}.minor_when_only",
            id="warning-alone-36-minor",
        ),
        pytest.param(
            "serious",
            date(2026, 4, 1),
            {"procedure": "simplified"},
            "minor",
            f"{SEVERITY}.simplified_procedure_is_minor",
            id="simplified-36-minor-whatever-declared",
        ),
        pytest.param(
            "general",
            date(2026, 4, 1),
            {"categories": ["吊销许可证件"]},
            "general",
            DECLARED,
            id="declared-general-stands-36",
        ),
        # a declared end (CF_GSJZQ) only serious conduct may have
        pytest.param(
            None,
            date(2026, 4, 1),
            {"declared_end": date(2027, 4, 2)},
            "serious",
            f"{SEVERITY}.declared_end_beyond_general_maximum_is_serious",
            id="declared-end-a-day-past-one-year-36-serious",
        ),
        pytest.param(
            None,
            date(2026, 4, 1),
            {"declared_end": date(2027, 4, 1)},
            "general",
            SERVICE_DEFAULT,
            id="declared-end-on-one-year-36-general",
        ),
        pytest.param(
            None,
            date(2023, 4, 30),
            {"declared_end": date(2024, 5, 1)},
            "serious",
            f"{SEVERITY}.declared_end_beyond_general_maximum_is_serious",
            id="declared-end-past-one-year-527-serious",
        ),
        pytest.param(
            None,
            date(2025, 11, 20),
            {"declared_end": date(2028, 11, 20), "categories": ["罚款", "没收违法所得"]},
            "general",
            SERVICE_DEFAULT,
            id="declared-end-three-years-58-general",
        ),
    ],
)
def test_penalty_severity(declared, decided, extra, severity, rule):
    found = conduct_publication(declared, decided, BOOK, **extra).severity
    assert (found.severity, found.rule) == (severity, rule)
    assert found.policy_version == BOOK.for_day(decided).id


# --- 3. lists and supervision tiers -------------------------------------------------------


def tiered(case_id, facts, lists, tier, ratio, on=ON):
    return pytest.param(facts, on, lists, tier, Decimal(ratio), id=case_id)


@pytest.mark.parametrize(
    ("facts", "on", "lists", "tier", "ratio"),
    [
        tiered("clean-trustworthy", [], [], "trustworthy", "0.01"),
        tiered(
            "black-list-seriously-dishonest",
            [listed("black")],
            [("black", False)],
            "seriously_dishonest",
            "0.80",
        ),
        tiered(
            "black-list-and-serious-conduct-worst-tier-wins",
            [listed("black"), conduct("serious", date(2026, 7, 1), "C1")],
            [("black", False), ("watch", True)],
            "seriously_dishonest",
            "0.80",
        ),
        tiered(
            "black-list-exited-no-longer-counts",
            [listed("black", ended=date(2026, 10, 1))],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "black-list-planned-end-passed-no-longer-counts",
            [listed("black", planned_end=date(2026, 10, 1))],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "black-list-entry-revoked-does-not-count",
            [listed("black", state="revoked")],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "black-list-resting-on-a-standing-penalty-counts",
            [conduct("general", date(2026, 5, 1), "B1"), listed("black", rests_on="B1")],
            [("black", False)],
            "seriously_dishonest",
            "0.80",
        ),
        # 信用修复管理办法 art. 3: the repair lifts the measures resting on the record
        tiered(
            "black-list-lapses-with-its-repaired-penalty",
            [
                conduct("general", date(2026, 5, 1), "B1", state="repaired"),
                listed("black", rests_on="B1"),
            ],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "black-list-lapses-with-its-revoked-penalty",
            [
                conduct("general", date(2026, 5, 1), "B1", state="revoked"),
                listed("black", rests_on="B1"),
            ],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "black-list-entry-lapsed-in-the-read-model-does-not-count",
            [listed("black", state="lapsed", rests_on="B1")],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "black-list-entered-after-the-day-not-yet",
            [listed("black", decided=date(2026, 12, 1))],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "three-minor-within-12-months-derived-watch-dishonest",
            [
                conduct("minor", date(2026, 3, 1), "M1", publish_until=None),
                conduct("minor", date(2026, 6, 1), "M2", publish_until=None),
                conduct("minor", date(2026, 9, 1), "M3", publish_until=None),
            ],
            [("watch", True)],
            "dishonest",
            "0.50",
        ),
        tiered(
            "two-minor-within-12-months-not-on-watch",
            [
                conduct("minor", date(2026, 6, 1), "M2", publish_until=None),
                conduct("minor", date(2026, 9, 1), "M3", publish_until=None),
            ],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "three-minor-first-older-than-12-months-not-on-watch",
            [
                conduct("minor", date(2025, 10, 1), "M1", publish_until=None),
                conduct("minor", date(2026, 6, 1), "M2", publish_until=None),
                conduct("minor", date(2026, 9, 1), "M3", publish_until=None),
            ],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "watch-list-entered-by-decision-dishonest",
            [listed("watch")],
            [("watch", False)],
            "dishonest",
            "0.50",
        ),
        tiered(
            "watch-list-exited-no-longer-counts",
            [listed("watch", ended=date(2026, 9, 1))],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "serious-conduct-within-12-months-derived-watch-dishonest",
            [conduct("serious", date(2026, 5, 1), "S1")],
            [("watch", True)],
            "dishonest",
            "0.50",
        ),
        tiered(
            "serious-conduct-older-than-12-months-still-published-dishonest",
            [conduct("serious", date(2025, 6, 1), "S1", publish_until=date(2028, 6, 1))],
            [],
            "dishonest",
            "0.50",
        ),
        tiered(
            "serious-conduct-publication-ended-trustworthy",
            [conduct("serious", date(2025, 6, 1), "S1", publish_until=date(2026, 6, 1))],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "general-published-conduct-warned",
            [conduct("general", date(2026, 5, 1), "G1", publish_until=date(2027, 5, 1))],
            [],
            "warned",
            "0.10",
        ),
        tiered(
            "general-conduct-publication-ended-trustworthy",
            [conduct("general", date(2025, 6, 1), "G1", publish_until=date(2026, 6, 1))],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "highway-grade-B-warned",
            [rating(HIGHWAY, "B", "80")],
            [],
            "warned",
            "0.10",
        ),
        tiered(
            "highway-grade-C-below-B-warned",
            [rating(HIGHWAY, "C", "70")],
            [],
            "warned",
            "0.10",
        ),
        tiered(
            "highway-grade-A-trustworthy",
            [rating(HIGHWAY, "A", "88")],
            [],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "driver-grade-B-25-points-warned",
            [rating(DRIVER, "B", "25")],
            [],
            "warned",
            "0.10",
        ),
        tiered(
            "road-transport-grade-B-warned",
            [rating(ROAD, "B", "550")],
            [],
            "warned",
            "0.10",
        ),
        tiered(
            "red-list-trustworthy",
            [listed("red")],
            [("red", False)],
            "trustworthy",
            "0.01",
        ),
        # black wins: a red membership is suspended while a black one lasts (国发〔2016〕33号)
        tiered(
            "red-then-black-red-suspended-black-shown",
            [listed("red", date(2026, 2, 1)), listed("black")],
            [("black", False)],
            "seriously_dishonest",
            "0.80",
        ),
        tiered(
            "red-shows-again-once-black-exited-2026-10-01",
            [listed("red", date(2026, 2, 1)), listed("black", ended=date(2026, 10, 1))],
            [("red", False)],
            "trustworthy",
            "0.01",
        ),
        tiered(
            "red-planned-end-passed-while-black-nothing-to-show-again",
            [
                listed("red", date(2026, 2, 1), planned_end=date(2026, 9, 1)),
                listed("black", ended=date(2026, 10, 1)),
            ],
            [],
            "trustworthy",
            "0.01",
        ),
    ],
)
def test_lists_and_supervision_tier(facts, on, lists, tier, ratio):
    status = evaluate(facts, BOOK, on)
    assert [(m.list_type, m.derived) for m in status.lists] == lists
    assert (status.tier, status.sampling_ratio) == (tier, ratio)


def red(case_id, facts, obstacles, on=ON):
    return pytest.param(facts, on, obstacles, id=case_id)


def not_top(scheme, grade, top):
    return f"{scheme} grade {grade} is not the top grade {top}"


@pytest.mark.parametrize(
    ("facts", "on", "obstacles"),
    [
        # 守信激励 presupposes no serious dishonesty (国发〔2016〕33号); the policy's red-list
        # criteria: no conduct within 12 months, the top grade in every scheme graded in
        red("no-records-nothing-in-the-way", [], ()),
        red("highway-AA-top-grade", [rating(HIGHWAY, "AA", "96")], ()),
        red(
            "highway-A-not-top",
            [rating(HIGHWAY, "A", "88")],
            (not_top(HIGHWAY, "A", "AA"),),
        ),
        red("road-AAA-top-grade", [rating(ROAD, "AAA", "900")], ()),
        red(
            "driver-AA-4-points-not-top",
            [rating(DRIVER, "AA", "4")],
            (not_top(DRIVER, "AA", "AAA"),),
        ),
        red(
            "top-in-one-scheme-not-in-the-other",
            [rating(HIGHWAY, "AA", "96", record_id="R1"), rating(ROAD, "AA", "800")],
            (not_top(ROAD, "AA", "AAA"),),
        ),
        red(
            "highway-AA96-general-conduct-deducted-to-A-91",
            [rating(HIGHWAY, "AA", "96"), conduct("general", date(2026, 5, 1), "C1")],
            (
                "general conduct C1 of 2026-05-01 is within 12 months",
                not_top(HIGHWAY, "A", "AA"),
            ),
        ),
        red(
            "highway-AA-capped-at-B-by-a-C-the-cycle-before",
            [
                rating(HIGHWAY, "C", "70", date(2025, 9, 1), date(2026, 9, 1), "R1"),
                rating(HIGHWAY, "AA", "96", date(2026, 8, 1), date(2027, 8, 1), "R2"),
            ],
            (not_top(HIGHWAY, "B", "AA"),),
        ),
        red(
            "minor-conduct-exactly-12-months-before-is-outside",
            [conduct("minor", date(2025, 11, 20), "C1", publish_until=None)],
            (),
        ),
        red(
            "minor-conduct-12-months-less-a-day-before-is-within",
            [conduct("minor", date(2025, 11, 21), "C1", publish_until=None)],
            ("minor conduct C1 of 2025-11-21 is within 12 months",),
        ),
        red(
            "revoked-conduct-within-12-months-does-not-count",
            [conduct("general", date(2026, 5, 1), "C1", state="revoked")],
            (),
        ),
        red(
            "serious-conduct-of-2024-12-01-still-published",
            [conduct("serious", date(2024, 12, 1), "S1", publish_until=date(2027, 12, 1))],
            ("serious conduct S1 of 2024-12-01 is published",),
        ),
        red(
            "serious-conduct-of-2024-12-01-publication-ended-2025-12-01",
            [conduct("serious", date(2024, 12, 1), "S1", publish_until=date(2025, 12, 1))],
            (),
        ),
        red(
            "general-conduct-published-but-older-than-12-months",
            [conduct("general", date(2025, 10, 1), "G1", publish_until=date(2026, 12, 1))],
            (),
        ),
        red(
            "black-list-entry-of-2026-06-01",
            [listed("black")],
            ("on the black list (entry L-black, since 2026-06-01)",),
        ),
        red(
            "black-list-entry-of-2026-06-01-forces-the-highway-grade-to-D",
            [rating(HIGHWAY, "AA", "96"), listed("black")],
            (
                "on the black list (entry L-black, since 2026-06-01)",
                not_top(HIGHWAY, "D", "AA"),
            ),
        ),
        red("black-list-exited-2026-10-01", [listed("black", ended=date(2026, 10, 1))], ()),
        red(
            "black-list-entry-decided-after-the-day",
            [listed("black", decided=date(2026, 12, 1))],
            (),
        ),
    ],
)
def test_red_list_criteria(facts, on, obstacles):
    assert red_list_obstacles(facts, BOOK, on) == obstacles


@pytest.mark.parametrize(
    ("on", "version"),
    [
        pytest.param(date(2019, 7, 15), "2019-527", id="2019-07-15-before-the-first-judged-by-it"),
        pytest.param(date(2019, 7, 16), "2019-527", id="2019-07-16-527-takes-effect"),
        pytest.param(date(2023, 4, 30), "2019-527", id="2023-04-30-last-day-of-527"),
        pytest.param(date(2023, 5, 1), "2023-58", id="2023-05-01-order-58-takes-effect"),
        pytest.param(date(2026, 3, 31), "2023-58", id="2026-03-31-last-day-of-order-58"),
        pytest.param(date(2026, 4, 1), "2026-36", id="2026-04-01-order-36-takes-effect"),
        pytest.param(date(2026, 11, 20), "2026-36", id="2026-11-20-order-36"),
    ],
)
def test_policy_version_named(on, version):
    assert evaluate([], BOOK, on).policy_version == version


# --- 4. working-day deadlines -------------------------------------------------------------
#
# 2026 (DOMAIN.md): 2/15-2/23 off, 2/14 (Sat) and 2/28 (Sat) worked; 9/25-9/27 off;
# 10/1-10/7 off, 9/20 (Sun) and 10/10 (Sat) worked. 2027 and 2028 have no official schedule
# yet: the days 《全国年节及纪念日放假办法》 art. 2 fixes (国务院令第795号) and weekends are off,
# no 调休 is known, and the deadline is provisional. 2027: 元旦 1/1 (Fri); 除夕-初三 2/5-2/8
# (Fri-Mon); 清明 4/5 (Mon); 端午 6/9 (Wed); 中秋 9/15 (Wed); 国庆 10/1-10/3 (Fri-Sun).
# 2028: 劳动节 5/1-5/2 (Mon-Tue).


def due(case_id, deadline, days, start, expected, provisional=False):
    return pytest.param(deadline, days, start, expected, provisional, id=case_id)


@pytest.mark.parametrize(
    ("deadline", "days", "start", "expected", "provisional"),
    [
        # Spring Festival 2026
        # Thu 2/12: 2/13, 2/14 (Sat worked), [2/15-2/23], 2/24, 2/25, 2/26, 2/27, 2/28 (Sat)
        due(
            "publication-7wd-from-2026-02-12",
            "publication",
            7,
            date(2026, 2, 12),
            date(2026, 2, 28),
        ),
        # Fri 2/13: 2/14, 2/24, 2/25, 2/26, 2/27, 2/28, [3/1 Sun], 3/2
        due(
            "publication-7wd-from-2026-02-13", "publication", 7, date(2026, 2, 13), date(2026, 3, 2)
        ),
        # Thu 2/12: 2/13, 2/14, 2/24
        due(
            "repair-decision-3wd-from-2026-02-12",
            "repair_decision",
            3,
            date(2026, 2, 12),
            date(2026, 2, 24),
        ),
        # Thu 2/12: 2/13, 2/14, 2/24 ... 2/28 (7), [3/1], 3/2, 3/3, 3/4
        due(
            "repair-case-10wd-from-2026-02-12",
            "repair_case",
            10,
            date(2026, 2, 12),
            date(2026, 3, 4),
        ),
        # Mid-Autumn and National Day 2026
        # Tue 9/29: 9/30, [10/1-10/7], 10/8, 10/9, 10/10 (Sat), [10/11], 10/12, 10/13, 10/14
        due(
            "publication-7wd-from-2026-09-29",
            "publication",
            7,
            date(2026, 9, 29),
            date(2026, 10, 14),
        ),
        # Wed 9/30: [10/1-10/7], 10/8, 10/9, 10/10 (Sat worked)
        due(
            "repair-decision-3wd-from-2026-09-30",
            "repair_decision",
            3,
            date(2026, 9, 30),
            date(2026, 10, 10),
        ),
        # Fri 9/18: [9/19], 9/20 (Sun worked), 9/21, 9/22
        due(
            "repair-decision-3wd-from-2026-09-18",
            "repair_decision",
            3,
            date(2026, 9, 18),
            date(2026, 9, 22),
        ),
        # Fri 9/18: 9/20, 9/21-9/24, [9/25-9/27], 9/28, 9/29, 9/30, [10/1-10/7], 10/8, 10/9
        due(
            "repair-case-10wd-from-2026-09-18",
            "repair_case",
            10,
            date(2026, 9, 18),
            date(2026, 10, 9),
        ),
        # New Year 2027
        # Mon 12/28: 12/29, 12/30, 12/31: stops inside 2026, so not provisional
        due(
            "repair-decision-3wd-from-2026-12-28-ends-2026-12-31",
            "repair_decision",
            3,
            date(2026, 12, 28),
            date(2026, 12, 31),
        ),
        # Fri 12/25: 12/28-12/31, [1/1 元旦 (Fri), 1/2-1/3], 1/4, 1/5, 1/6
        due(
            "publication-7wd-from-2026-12-25-into-2027",
            "publication",
            7,
            date(2026, 12, 25),
            date(2027, 1, 6),
            provisional=True,
        ),
        # Thu 12/24: 12/25, 12/28-12/31, [1/1], 1/4-1/8
        due(
            "repair-case-10wd-from-2026-12-24-into-2027",
            "repair_case",
            10,
            date(2026, 12, 24),
            date(2027, 1, 8),
            provisional=True,
        ),
        # Thu 12/31: [1/1 元旦 (Fri), 1/2-1/3], 1/4, 1/5, 1/6
        due(
            "repair-decision-3wd-from-2026-12-31-into-2027",
            "repair_decision",
            3,
            date(2026, 12, 31),
            date(2027, 1, 6),
            provisional=True,
        ),
        # Spring Festival 2027 without a schedule
        # Thu 2/4: [2/5 除夕 - 2/8 初三], 2/9, 2/10, 2/11
        due(
            "repair-decision-3wd-from-2027-02-04-spring-festival",
            "repair_decision",
            3,
            date(2027, 2, 4),
            date(2027, 2, 11),
            provisional=True,
        ),
        # Thu 2/4: 2/9-2/12, 2/15, 2/16, 2/17
        due(
            "publication-7wd-from-2027-02-04-spring-festival",
            "publication",
            7,
            date(2027, 2, 4),
            date(2027, 2, 17),
            provisional=True,
        ),
        # Fri 4/2: [4/5 清明 (Mon)], 4/6, 4/7, 4/8
        due(
            "repair-decision-3wd-from-2027-04-02-qingming",
            "repair_decision",
            3,
            date(2027, 4, 2),
            date(2027, 4, 8),
            provisional=True,
        ),
        # Tue 6/8: [6/9 端午], 6/10, 6/11, 6/14
        due(
            "repair-decision-3wd-from-2027-06-08-dragon-boat",
            "repair_decision",
            3,
            date(2027, 6, 8),
            date(2027, 6, 14),
            provisional=True,
        ),
        # Tue 9/14: [9/15 中秋], 9/16, 9/17, 9/20
        due(
            "repair-decision-3wd-from-2027-09-14-mid-autumn",
            "repair_decision",
            3,
            date(2027, 9, 14),
            date(2027, 9, 20),
            provisional=True,
        ),
        # Thu 9/30: [10/1-10/3 国庆], 10/4 ... 10/8, 10/11, 10/12
        due(
            "publication-7wd-from-2027-09-30-national-day",
            "publication",
            7,
            date(2027, 9, 30),
            date(2027, 10, 12),
            provisional=True,
        ),
        # Fri 4/28/2028: [5/1-5/2 劳动节 (Mon-Tue)], 5/3, 5/4, 5/5
        due(
            "repair-decision-3wd-from-2028-04-28-labour-day",
            "repair_decision",
            3,
            date(2028, 4, 28),
            date(2028, 5, 5),
            provisional=True,
        ),
    ],
)
def test_working_day_deadline(deadline, days, start, expected, provisional):
    rule = getattr(BOOK.in_force(start).deadlines, deadline)
    assert (rule.days, rule.working_days) == (days, True)
    result = WorkingDayCalendar().add_working_days(start, rule.days)
    assert (result.due, result.provisional) == (expected, provisional)
    assert ("no official schedule" in result.basis) is provisional


# --- 5. an applicant names a decision on the subject's file --------------------------------
# The applicant pages file for a subject whose code and the number of a decision served on it
# the applicant gives, written as people write it.
FILED_AS = "郑交执罚〔2026〕0012号"


@pytest.mark.parametrize(
    ("on_file", "typed", "names_it"),
    [
        pytest.param(FILED_AS, FILED_AS, True, id="as-written"),
        pytest.param(FILED_AS, "郑交执罚[2026]0012号", True, id="square-brackets"),
        pytest.param(FILED_AS, "郑交执罚(2026)0012号", True, id="round-brackets"),
        pytest.param(FILED_AS, "郑交执罚【2026】0012号", True, id="lenticular-brackets"),
        pytest.param(FILED_AS, "郑交执罚（２０２６）００１２号", True, id="full-width"),
        pytest.param(FILED_AS, " 郑交执罚 〔2026〕 0012号\t", True, id="spaces"),
        pytest.param("ZJ-2026-12", "zj-2026-12", True, id="letter-case"),
        pytest.param(FILED_AS, "郑交执罚〔2026〕12号", False, id="leading-zeros-count"),
        pytest.param(FILED_AS, "郑交执罚〔2025〕0012号", False, id="another-year"),
        pytest.param(FILED_AS, "郑交执罚〔2026〕", False, id="the-prefix-only"),
        pytest.param(FILED_AS, "", False, id="nothing"),
    ],
)
def test_an_applicant_names_a_decision_on_the_file(on_file, typed, names_it):
    subject = registered_enterprise(uuid4(), recorded_at=datetime(2026, 11, 20, 4, tzinfo=UTC))
    fields = {
        **AUTHORITY,
        "source_ref": on_file,
        "decision_date": date(2026, 10, 1),
        "severity": "general",
        "procedure": "general",
        "violation_type": "超限运输",
        "facts": "超限",
        "legal_basis": "条例",
        "penalty_categories": ["罚款"],
        "content": "罚款",
    }
    made = subject.record(
        PenaltyDecided,
        fields,
        record_id=uuid4(),
        recorded_by="t",
        request_key=None,
        today=ON,
        recorded_at=datetime(2026, 11, 20, 4, tzinfo=UTC),
        policy=BOOK,
    )
    if names_it:
        assert subject.record_by_decision_number(typed) == made.record_id
    else:
        with pytest.raises(RecordNotFound):
            subject.record_by_decision_number(typed)
