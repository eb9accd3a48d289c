"""The read models' projectors, in the order the runner applies them: built here for the service
and for each process that builds a generation of them (`credit rebuild --partitions`)."""

from __future__ import annotations

from datetime import tzinfo

from domain.policy import PolicyBook
from domain.working_days import WorkingDayCalendar
from projections.cases.projector import CaseProjector
from projections.changes.projector import ChangeProjector
from projections.credit_file.projector import CreditFileProjector
from projections.report_records.projector import ReportRecordProjector
from projections.runner import Projector
from service.commanding.importing.columns import national_indicators
from service.notifications.notices import NoticeProjector


def read_model_projectors(
    policy: PolicyBook, calendar: WorkingDayCalendar, zone: tzinfo
) -> list[Projector]:
    # A projector reads no clock (a rebuild must give the same rows): the cases one dates each
    # step by its recorded moment in the clock's zone, the reports one each record.
    return [
        CreditFileProjector(policy),
        CaseProjector(zone),
        ReportRecordProjector(policy, calendar, zone, national_indicators()),
        ChangeProjector(policy, zone),
        # Who read a record before its repair or revocation, from the access log.
        NoticeProjector(),
    ]
