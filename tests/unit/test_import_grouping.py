"""An import's rows set aside by subject and read back group after group
(service/commanding/importing/grouping.py), its share's groups, and its report's lists, which
rows reach in the order they are decided rather than the file's."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import codes
from service.commanding.importing import grouping, report
from service.commanding.importing.batch import ImportShare
from service.commanding.importing.grouping import SubjectGroups
from service.commanding.importing.report import ImportReport, RowRejection, RowSeverity

cells = st.text(max_size=12)
rows = st.dictionaries(st.sampled_from(["A", "B", "C", ""]), cells, min_size=1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), rows), max_size=60), st.integers(1, 5))
def test_groups_give_back_each_row_whole_group_after_group_in_the_order_added(
    added: list[tuple[int, dict[str, str]]], groups: int
):
    grouped = SubjectGroups(groups)
    try:
        for line, (group, row) in enumerate(added, start=2):
            grouped.add(group % groups, line, row)
        expected = [
            (line, row)
            for group in range(groups)
            for line, (of, row) in enumerate(added, start=2)
            if of % groups == group
        ]
        read = list(grouped)
    finally:
        grouped.close()
    assert read == expected
    assert [list(row) for _, row in read] == [list(row) for _, row in expected]  # column order
    assert grouped.rows == len(added)


def test_groups_past_their_memory_go_to_disk_and_read_back_the_same(monkeypatch):
    monkeypatch.setattr(grouping, "SPOOLED_BYTES", 1024)
    row = {"CF_XDR_MC": "郑州顺达货运有限公司", "CF_WSH": "郑交执罚〔2026〕1号", "CF_SY": "超限"}
    grouped = SubjectGroups(2)
    try:
        for line in range(2, 502):
            grouped.add(line % 2, line, {**row, "CF_WSH": f"郑交执罚〔2026〕{line}号"})
        assert all(spool._rolled for spool in grouped._spools)  # type: ignore[attr-defined]
        read = list(grouped)
    finally:
        grouped.close()
    assert [line for line, _ in read] == [*range(2, 502, 2), *range(3, 502, 2)]
    assert read[0][1] == {**row, "CF_WSH": "郑交执罚〔2026〕2号"}


@pytest.mark.parametrize("partitions", [1, 2, 3])
def test_a_shares_groups_divide_its_subjects_and_only_its_own(partitions: int):
    groups = 8
    subjects = [codes.make_uscc(f"91410100MA{n:07d}") for n in range(4000)]
    shares = [ImportShare(partition, partitions) for partition in range(partitions)]
    owners: dict[str, int] = {}
    for partition, share in enumerate(shares):
        taken = {s: share.group_of(s, groups) for s in subjects}
        own = [s for s in subjects if taken[s] is not None]
        for subject in own:
            assert owners.setdefault(subject, partition) == partition  # one share's only
        assert len(own) > len(subjects) / partitions / 2  # every share used, none most of them
        counts = [sum(1 for s in own if taken[s] == group) for group in range(groups)]
        assert min(counts) > len(own) / groups / 2  # every group used, none most of them
    assert len(owners) == len(subjects)  # each subject's in a share
    # A row that names no subject is the first share's, in its first group.
    assert [ImportShare(p, partitions).group_of(None, groups) for p in range(partitions)] == [
        0,
        *[None] * (partitions - 1),
    ]


def _told_in_order(
    rejections: list[tuple[int, str]], severities: list[int], order: list[int]
) -> ImportReport:
    told = ImportReport(rows_read=0, accepted=0, already_present=0)
    for index in order:
        if index < len(rejections):
            line, text = rejections[index]
            told.reject(line, f"reason {line}", {"A": text})
        else:
            line = severities[index - len(rejections)]
            told.accepted_penalty(line, "serious", "rule", "flag" if line % 3 == 0 else None)
    told.sort()
    return told


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 400), unique=True, max_size=60),
    st.lists(st.text(max_size=40), min_size=60, max_size=60),
    st.randoms(use_true_random=False),
)
def test_a_reports_lists_are_the_first_rows_by_line_whatever_order_rows_are_told_in(
    lines: list[int], texts: list[str], shuffler: random.Random
):
    """With small bounds, rows told in a random order give the report rows told by line gives:
    the first rows by line, listed, and the cells of the first rejected rows that fit the
    bounds together (a row past the first that does not fit keeps none)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report, "MAX_LISTED_REJECTIONS", 5)
        patch.setattr(report, "MAX_KEPT_REJECTED_ROWS", 4)
        patch.setattr(report, "MAX_KEPT_REJECTED_CHARS", 60)
        half = len(lines) // 2
        rejections = [(line, texts[i]) for i, line in enumerate(lines[:half])]
        severities = lines[half:]
        by_line = sorted(range(len(lines)), key=lines.__getitem__)
        shuffled = list(range(len(lines)))
        shuffler.shuffle(shuffled)
        expected = _told_in_order(rejections, severities, by_line)
        told = _told_in_order(rejections, severities, shuffled)

    assert told == expected
    first = sorted(rejections)[:5]
    assert told.rejected == [RowRejection(line, f"reason {line}") for line, _ in first]
    assert (
        told.severities == [RowSeverity(line, "serious", "rule") for line in sorted(severities)][:5]
    )
    assert (told.rejected_count, told.flagged_count) == (
        len(rejections),
        sum(1 for line in severities if line % 3 == 0),
    )
    kept, chars = [], 0
    for line, text in sorted(rejections)[:4]:
        if chars + len(text) > 60:
            break
        kept.append(line)
        chars += len(text)
    assert sorted(told.rejected_rows) == kept
