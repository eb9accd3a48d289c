"""Credit status from records under the policy in force: given records, on a day, then status."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.credit_status import (
    RecordFact,
    conduct_horizon,
    evaluate,
    grades_and_warnings,
    red_list_obstacles,
)
from service.policy.loader import load_policy

pytestmark = pytest.mark.domain
BOOK = load_policy()
ON = date(2026, 11, 20)


def rating(
    grade="A",
    score="88",
    scheme="highway_construction",
    decided=date(2026, 3, 1),
    until=date(2027, 3, 1),
    record_id="R",
):
    return RecordFact(
        record_id,
        "RatingIssued",
        decided,
        scheme=scheme,
        grade=grade,
        score=Decimal(score) if score is not None else None,
        valid_from=decided,
        valid_until=until,
    )


def conduct(
    severity, decided, record_id=None, kind="PenaltyDecided", state="active", published=True
):
    return RecordFact(
        record_id or f"{kind}-{decided}-{severity}",
        kind,
        decided,
        state=state,
        severity=severity,
        publish_from=decided if published else None,
        publish_until=date(2030, 1, 1) if published else None,
    )


def listed(list_type, decided=date(2026, 6, 1), ended=None, planned_end=None):
    return RecordFact(
        f"L-{list_type}",
        "ListEntered",
        decided,
        list_type=list_type,
        basis="决定",
        ended_on=ended,
        planned_end=planned_end,
    )


def grade_of(status, scheme="highway_construction"):
    return next(g for g in status.grades if g.scheme == scheme)


def test_a_rating_alone_gives_its_grade_and_the_trustworthy_tier():
    status = evaluate([rating()], BOOK, ON)
    assert (grade_of(status).grade, grade_of(status).value) == ("A", Decimal("88"))
    assert (status.tier, status.sampling_ratio) == ("trustworthy", Decimal("0.01"))
    assert status.policy_version == "2026-36"


def test_conduct_after_the_rating_is_deducted_and_moves_the_band():
    status = evaluate(
        [rating(), conduct("general", date(2026, 5, 1)), conduct("general", date(2026, 6, 1))],
        BOOK,
        ON,
    )
    result = grade_of(status)
    assert (result.value, result.grade) == (Decimal("78"), "B")
    assert [a.amount for a in result.adjustments] == [Decimal("5"), Decimal("5")]


def test_conduct_before_the_rating_is_already_in_it():
    status = evaluate([conduct("serious", date(2026, 2, 1)), rating()], BOOK, ON)
    assert grade_of(status).adjustments == ()


def test_a_revoked_record_stops_counting_at_once():
    status = evaluate([rating(), conduct("serious", date(2026, 5, 1), state="revoked")], BOOK, ON)
    assert (grade_of(status).grade, status.tier) == ("A", "trustworthy")


def test_a_breached_commitment_counts_as_dishonest_conduct():
    breach = conduct("general", date(2026, 5, 1), kind="CommitmentBreached")
    status = evaluate([rating(), breach], BOOK, ON)
    assert grade_of(status).adjustments[0].record_id == breach.record_id
    assert status.tier == "warned"


def test_a_black_list_entry_forces_the_lowest_grade_while_it_lasts():
    facts = [rating(grade="AA", score="97"), listed("black", ended=date(2026, 10, 1))]
    assert grade_of(evaluate(facts, BOOK, date(2026, 9, 1))).grade == "D"
    assert grade_of(evaluate(facts, BOOK, date(2026, 9, 1))).forced_by
    assert grade_of(evaluate(facts, BOOK, ON)).grade == "AA"
    assert evaluate(facts, BOOK, date(2026, 9, 1)).tier == "seriously_dishonest"


def test_a_highway_construction_enterprise_rises_at_most_one_grade_a_rating_cycle():
    """The cycle is the calendar year: a D of March 2025 caps an AA of March 2026 at C, though
    more than twelve months lie between them; two cycles on, two grades."""
    d_2025 = rating(
        grade="D", score="50", decided=date(2025, 3, 1), until=date(2026, 3, 1), record_id="R1"
    )
    aa_2026 = rating(grade="AA", score="96", decided=date(2026, 3, 20), record_id="R2")
    result = grade_of(evaluate([d_2025, aa_2026], BOOK, ON))
    assert (result.base_grade, result.grade) == ("AA", "C")
    assert result.capped_by == "highway_construction.rise_cap.grades_per_cycle = 1"
    d_2024 = rating(
        grade="D", score="50", decided=date(2024, 3, 1), until=date(2025, 3, 1), record_id="R1"
    )
    assert grade_of(evaluate([d_2024, aa_2026], BOOK, ON)).grade == "B"
    assert grade_of(evaluate([aa_2026], BOOK, ON)).capped_by is None


def test_repeated_minor_conduct_within_the_window_puts_the_subject_on_the_watch_list():
    minors = [conduct("minor", date(2026, m, 1), published=False) for m in (3, 6, 9)]
    status = evaluate(minors, BOOK, ON)
    [member] = status.lists
    assert (member.list_type, member.derived, member.entered_on) == (
        "watch",
        True,
        date(2026, 9, 1),
    )
    assert status.tier == "dishonest"
    assert evaluate(minors[1:], BOOK, ON).lists == ()
    assert evaluate(minors, BOOK, date(2027, 3, 2)).lists == ()  # the first fell out


def test_a_rating_expires_at_its_validity_without_any_new_event():
    facts = [rating(until=date(2026, 11, 21))]
    assert grade_of(evaluate(facts, BOOK, date(2026, 11, 20))).grade == "A"
    assert evaluate(facts, BOOK, date(2026, 11, 21)).grades == ()


def test_the_policy_in_force_on_the_day_is_the_one_named():
    assert evaluate([], BOOK, date(2023, 4, 30)).policy_version == "2019-527"
    assert evaluate([], BOOK, date(2023, 5, 1)).policy_version == "2023-58"
    assert evaluate([], BOOK, date(2026, 3, 31)).policy_version == "2023-58"
    assert evaluate([], BOOK, date(2026, 4, 1)).policy_version == "2026-36"
    assert evaluate([], BOOK, date(2018, 1, 1)).policy_version == "2019-527"


def test_warnings_near_a_lower_grade_repeated_conduct_and_commitments():
    facts = [
        rating(score="86"),  # A starts at 85: within the margin of 3
        conduct("minor", date(2026, 10, 1), published=False),
        conduct("minor", date(2026, 11, 1), published=False),
        RecordFact("C1", "CommitmentMade", date(2026, 1, 1), due_date=date(2026, 12, 1)),
        RecordFact("C2", "CommitmentMade", date(2026, 1, 1), due_date=date(2026, 11, 1)),
        RecordFact(
            "C3",
            "CommitmentMade",
            date(2026, 1, 1),
            due_date=date(2026, 11, 1),
            ended_on=date(2026, 10, 30),
        ),
    ]
    kinds = [(w.kind, w.record_id) for w in evaluate(facts, BOOK, ON).warnings]
    assert kinds == [
        ("repeated_conduct", None),
        ("commitment_due", "C1"),
        ("commitment_overdue", "C2"),
    ]
    near = [(w.kind, w.record_id) for w in evaluate(facts[:1], BOOK, ON).warnings]
    assert near == [("close_to_lower_grade", None)]


@pytest.mark.parametrize(
    ("scheme", "grade", "score", "severity", "expected"),
    [
        ("driver_integrity", "AAA", "0", "general", "AA"),  # deducted points go up
        ("sector_default", "AA", "95", "minor", "A"),
        ("road_transport_quality", "AA", "760", "general", "AA"),  # 1000-point scale: -50
        ("road_transport_quality", "AA", "720", "general", "A"),
        ("road_transport_quality", "AA", "720", "serious", "B"),  # -150
    ],
)
def test_every_scheme_adjusts_in_its_own_measure(scheme, grade, score, severity, expected):
    facts = [rating(grade=grade, score=score, scheme=scheme), conduct(severity, date(2026, 5, 1))]
    assert grade_of(evaluate(facts, BOOK, ON), scheme).grade == expected


def test_a_list_entry_lapses_with_the_record_it_rests_on():
    basis = conduct("serious", date(2026, 5, 1), record_id="P-BASIS")
    entry = RecordFact(
        "L-1",
        "ListEntered",
        date(2026, 6, 1),
        list_type="black",
        basis="严重",
        basis_record_id="P-BASIS",
    )
    assert "black" in [m.list_type for m in evaluate([basis, entry], BOOK, ON).lists]
    repaired = RecordFact(
        "P-BASIS", "PenaltyDecided", date(2026, 5, 1), state="repaired", severity="serious"
    )
    status = evaluate([repaired, entry], BOOK, ON)
    assert status.lists == () and status.tier == "trustworthy"


def test_a_black_list_entry_suspends_a_red_list_membership_while_it_lasts():
    """Black wins (守信激励 presupposes no serious dishonesty): the red membership shows again
    once the black one has ended, if it has not ended itself."""
    red = listed("red", decided=date(2026, 2, 1), planned_end=date(2027, 2, 1))
    black = listed("black", decided=date(2026, 6, 1), ended=date(2026, 10, 1))
    lists = [
        [m.list_type for m in evaluate([red, black], BOOK, day).lists]
        for day in (
            date(2026, 5, 31),
            date(2026, 6, 1),
            date(2026, 9, 30),
            date(2026, 10, 1),
            date(2027, 2, 1),
        )
    ]
    assert lists == [["red"], ["black"], ["black"], ["red"], []]
    assert evaluate([red, black], BOOK, date(2026, 7, 1)).tier == "seriously_dishonest"


def test_nothing_keeps_a_clean_top_graded_subject_off_the_red_list():
    assert red_list_obstacles([rating(grade="AA", score="97")], BOOK, ON) == ()
    assert red_list_obstacles([], BOOK, ON) == ()  # graded in no scheme: no grade to fall short


def test_what_keeps_a_subject_off_the_red_list_is_named():
    facts = [
        rating(grade="A", score="88"),
        conduct("serious", date(2025, 6, 1), record_id="P-OLD"),  # published until 2030
        conduct("minor", date(2026, 1, 10), record_id="P-NEW", published=False),
        listed("black", decided=date(2026, 6, 1)),
    ]
    assert red_list_obstacles(facts, BOOK, ON) == (
        "on the black list (entry L-black, since 2026-06-01)",
        "serious conduct P-OLD of 2025-06-01 is published",
        "minor conduct P-NEW of 2026-01-10 is within 12 months",
        "highway_construction grade D is not the top grade AA",  # forced by the black list
    )
    assert red_list_obstacles(facts[:2], BOOK, ON) == (
        "serious conduct P-OLD of 2025-06-01 is published",
        "highway_construction grade A is not the top grade AA",
    )
    # before the rating, no grade; the serious conduct is recent then, and said so once
    assert red_list_obstacles(facts[:2], BOOK, date(2026, 1, 9)) == (
        "serious conduct P-OLD of 2025-06-01 is within 12 months",
    )


def test_a_commitment_fulfilled_later_is_still_due_on_an_earlier_day():
    commitment = RecordFact(
        "C1",
        "CommitmentMade",
        date(2026, 1, 1),
        due_date=date(2026, 11, 1),
        ended_on=date(2026, 10, 30),
    )
    before = [
        (w.kind, w.record_id) for w in evaluate([commitment], BOOK, date(2026, 10, 29)).warnings
    ]
    assert before == [("commitment_due", "C1")]
    assert evaluate([commitment], BOOK, date(2026, 10, 30)).warnings == ()


DAYS = st.dates(date(2022, 1, 1), date(2026, 11, 20))
SEVERITY = st.sampled_from(["minor", "general", "serious"])


@st.composite
def histories(draw):
    """Ratings, conduct (published or not), list entries resting on conduct, commitments."""
    facts = []
    for n in range(draw(st.integers(0, 4))):
        decided = draw(DAYS)
        facts.append(
            rating(
                grade=draw(st.sampled_from(["AA", "A", "B"])),
                score=draw(st.sampled_from(["96", "88", "80", "70"])),
                scheme=draw(st.sampled_from(["highway_construction", "sector_default"])),
                decided=decided,
                until=decided + timedelta(days=draw(st.integers(30, 800))),
                record_id=f"R{n}",
            )
        )
    conduct_ids = []
    rated = [f.decision_date for f in facts]
    for n in range(draw(st.integers(0, 25))):
        # some shortly after a rating: deductions reach back to the rating in force
        decided = draw(DAYS)
        if rated and draw(st.booleans()):
            decided = draw(st.sampled_from(rated)) + timedelta(days=draw(st.integers(0, 90)))
        published = draw(st.booleans())
        facts.append(
            RecordFact(
                f"P{n}",
                draw(st.sampled_from(["PenaltyDecided", "DishonestConductRecorded"])),
                decided,
                severity=draw(SEVERITY),
                publish_from=decided if published else None,
                publish_until=decided + timedelta(days=draw(st.integers(1, 400))),
            )
        )
        conduct_ids.append(f"P{n}")
    for n in range(draw(st.integers(0, 2))):
        facts.append(
            RecordFact(
                f"L{n}",
                "ListEntered",
                draw(DAYS),
                list_type=draw(st.sampled_from(["black", "red", "watch"])),
                basis="决定",
                basis_record_id=draw(st.sampled_from(conduct_ids)) if conduct_ids else None,
            )
        )
    return facts


@settings(max_examples=300, deadline=None)
@given(facts=histories(), later=st.integers(0, 1600))
def test_conduct_before_the_horizon_weighs_only_while_published_or_as_a_basis(facts, later):
    """What the as-of queries leave out (old, unpublished conduct no list rests on) changes
    nothing in the status."""
    on = min(date(2022, 1, 1) + timedelta(days=later), ON)
    if facts and later % 3:  # often a day months after a rating or a conduct
        on = min(facts[later % len(facts)].decision_date + timedelta(days=later // 2), ON)
    conduct_types = ("PenaltyDecided", "DishonestConductRecorded", "CommitmentBreached")
    others = [f for f in facts if f.type not in conduct_types]
    horizon = conduct_horizon(others, BOOK, on)
    bases = {f.basis_record_id for f in others if f.basis_record_id}
    kept = others + [
        f
        for f in facts
        if f.type in conduct_types
        and (f.decision_date > horizon or f.published_on(on) or f.record_id in bases)
    ]
    assert evaluate(kept, BOOK, on) == evaluate(facts, BOOK, on)


@settings(max_examples=300, deadline=None)
@given(facts=histories(), later=st.integers(0, 1600), out=st.sets(st.integers(0, 30)))
def test_the_grades_and_warnings_alone_are_those_of_the_whole_status(facts, later, out):
    """What the changes are told from at each event (`grades_and_warnings`, without the lists
    and the tier) is what the whole evaluation gives, records revoked among them."""
    facts = [replace(f, state="revoked") if n in out else f for n, f in enumerate(facts)]
    on = min(date(2022, 1, 1) + timedelta(days=later), ON)
    if facts and later % 3:
        on = min(facts[later % len(facts)].decision_date + timedelta(days=later // 2), ON)
    status = evaluate(facts, BOOK, on)
    assert grades_and_warnings(facts, BOOK, on) == (status.grades, status.warnings)
