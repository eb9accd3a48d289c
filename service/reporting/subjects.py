"""The subject of a figure's row as every answer shows it: name, kind, masked code, region and
sectors, read from the credit file's subjects, for the rows of a list and for a licence or a
penalty behind the 及时率 and 合格率."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, select

from projections.tables import report_records, subjects


@dataclass(frozen=True)
class ListedSubject:
    """The subject of a row, as every answer shows it (an ID number masked)."""

    subject_id: UUID
    kind: str
    name: str
    code_masked: str
    region_code: str
    sectors: tuple[str, ...]


SUBJECT_COLUMNS = (
    subjects.c.kind.label("subject_kind"),
    subjects.c.name.label("subject_name"),
    subjects.c.code_masked,
    subjects.c.region_code,
    subjects.c.sectors,
)


def listed_subject(row: Any) -> ListedSubject:
    """From a row read with `SUBJECT_COLUMNS` and the subject's id."""
    return ListedSubject(
        subject_id=row["subject_id"],
        kind=row["subject_kind"],
        name=row["subject_name"],
        code_masked=row["code_masked"],
        region_code=row["region_code"],
        sectors=tuple(row["sectors"]),
    )


def subjects_of_report_records(
    engine: Engine, record_ids: Iterable[UUID]
) -> dict[UUID, ListedSubject]:
    """The subject of each of the report rows (licences and penalties) given, by record id."""
    wanted = sorted(set(record_ids))
    if not wanted:
        return {}
    query = (
        select(report_records.c.record_id, subjects.c.subject_id, *SUBJECT_COLUMNS)
        .join(subjects, subjects.c.subject_id == report_records.c.subject_id)
        .where(report_records.c.record_id.in_(wanted))
    )
    with engine.connect() as conn:
        return {row["record_id"]: listed_subject(row) for row in conn.execute(query).mappings()}
