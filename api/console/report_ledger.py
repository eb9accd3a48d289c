"""The month's 台账 as `ledger_workbook` writes it: the cover (title, agency, period, when made, the
policy versions in force, each figure's definition and source from
`service.reporting.definitions`) and a sheet per figure, in the words the figures pages use
(`report_views.py`). Counts and rates stay numbers; dates are date cells."""

from __future__ import annotations

from datetime import datetime, tzinfo

from api.console import labels
from api.console.ledger_workbook import (
    DATE,
    PERCENT,
    WHOLE,
    Cell,
    Column,
    Cover,
    Figure,
    LedgerSheet,
)
from api.console.report_views import (
    HOW_LEFT,
    IDENTIFIED_BY,
    KIND_OF,
    LIST_NAMES,
    MEASURE_TYPES,
    authority_labels,
    counted_in,
    yes_no,
)
from api.templating import chinese_date, chinese_moment
from api.web import KINDS, OUTCOMES, STATUSES
from domain.regions import region_label
from service.reporting.cases import CaseCounts
from service.reporting.definitions import CASES, FIGURES, JOINT_MEASURES, LISTS, OVERLOAD
from service.reporting.lists import ListEntryRow
from service.reporting.monthly import MonthFigures

LEDGER_PURPOSE = "月度信用交通工作台账报送"
LEDGER_ACTION = "report_ledger"


def ledger_cover(figures: MonthFigures, agency: str, now: datetime, zone: tzinfo) -> Cover:
    period = figures.period
    return Cover(
        title=f"{figures.month.chinese} 信用交通工作台账",
        agency=agency,
        period=f"{chinese_date(period.first)}至{chinese_date(period.last)}",
        generated_at=chinese_moment(now, zone),
        policy_versions=figures.policy_versions,
        figures=[
            Figure(FIGURES[key].name, FIGURES[key].definition, FIGURES[key].source)
            for key in (CASES, LISTS, JOINT_MEASURES, OVERLOAD)
        ],
    )


def ledger_sheets(figures: MonthFigures) -> list[LedgerSheet]:
    """A sheet per figure, in the cover's order."""
    return [
        case_sheet(figures),
        case_rows_sheet(figures),
        list_sheet(figures),
        joint_measure_sheet(figures),
        overload_sheet(figures),
    ]


def _counted_on(figures: MonthFigures) -> str:
    return f"“当前超期”截至{chinese_date(figures.cases.counted_on)}（生成之日）。"


def case_sheet(figures: MonthFigures) -> LedgerSheet:
    cases = figures.cases
    named = authority_labels((a.authority_code, a.authority_name) for a in cases.authorities)
    rows: list[list[Cell]] = []
    for authority in cases.authorities:
        for counts in authority.counts:
            rows.append(
                [named[authority.authority_code], authority.authority_code, *_counts(counts)]
            )
    for counts in cases.total:
        rows.append(["全部认定机关", "", *_counts(counts)])
    return LedgerSheet(
        "案件办理时限",
        [
            Column("认定机关", 28),
            Column("认定机关代码", 22),
            Column("案件类别", 10),
            Column("当月提交", 10, WHOLE),
            Column("当月办结", 10, WHOLE),
            Column("其中按期办结", 12, WHOLE),
            Column("按期办结率", 12, PERCENT),
            Column("当前超期", 10, WHOLE),
            Column("办结用时中位数（工作日）", 14),
        ],
        rows,
        notes=(FIGURES[CASES].name, _counted_on(figures)),
    )


def _counts(counts: CaseCounts) -> list[Cell]:
    return [
        KIND_OF.get(counts.kind, counts.kind),
        counts.filed,
        counts.decided,
        counts.decided_within_deadline,
        counts.within_deadline_rate,
        counts.overdue_now,
        counts.median_working_days_to_decision,
    ]


def case_rows_sheet(figures: MonthFigures) -> LedgerSheet:
    cases = figures.cases
    named = authority_labels((a.authority_code, a.authority_name) for a in cases.authorities)
    return LedgerSheet(
        "案件明细",
        [
            Column("案件编号", 22),
            Column("案件类别", 10),
            Column("状态", 14),
            Column("认定机关", 28),
            Column("提交日期", 14, DATE),
            Column("办理期限", 14, DATE),
            Column("办结日期", 14, DATE),
            Column("结果", 10),
            Column("是否按期", 8),
            Column("办结用时（工作日）", 10, WHOLE),
            Column("超期天数", 8, WHOLE),
            Column("计入", 28),
        ],
        [
            [
                row.case_number,
                KINDS.get(row.kind, row.kind),
                STATUSES.get(row.status, row.status),
                named.get(row.authority_code, row.authority_name),
                row.filed_on,
                row.due,
                row.decided_on,
                OUTCOMES.get(row.outcome or "", row.outcome),
                yes_no(row.within_deadline) or None,
                row.working_days_to_decision,
                row.overdue_days or None,
                counted_in(row),
            ]
            for row in cases.rows
        ],
        notes=(
            "信用修复和异议案件明细：当月提交、当月办结或当前超期的案件。",
            _counted_on(figures),
        ),
    )


def list_sheet(figures: MonthFigures) -> LedgerSheet:
    rows: list[list[Cell]] = []
    for figure in figures.lists.lists:
        name = LIST_NAMES[figure.list_type]
        rows.append([name, "合计", None, figure.on_list_at_end, figure.entries, figure.exits])
        for part in figure.by_region:
            region = region_label(part.key)
            rows.append([name, "地区", region, part.on_list_at_end, part.entries, part.exits])
        for part in figure.by_sector:
            rows.append(
                [
                    name,
                    "行业",
                    labels.label(labels.SECTORS, part.key),
                    part.on_list_at_end,
                    part.entries,
                    part.exits,
                ]
            )
    return LedgerSheet(
        "名单情况",
        [
            Column("名单", 14),
            Column("分列", 8),
            Column("地区或行业", 24),
            Column("月末在列主体", 12, WHOLE),
            Column("当月列入", 10, WHOLE),
            Column("当月移出", 10, WHOLE),
        ],
        rows,
        notes=(
            f"{FIGURES[LISTS].name}：月末为{chinese_date(figures.period.last)}；地区按市级归并，"
            "一个主体计入其登记的每个行业。",
        ),
    )


def joint_measure_sheet(figures: MonthFigures) -> LedgerSheet:
    measures = figures.joint_measures
    return LedgerSheet(
        "联合奖惩成效清单",
        [
            Column("被执行主体", 28),
            Column("主体代码", 22),
            Column("措施类型", 10),
            Column("执行措施", 28),
            Column("执行部门", 24),
            Column("执行时间", 14, DATE),
            Column("具体事项", 36),
            Column("记录机关", 24),
            Column("反馈文号", 18),
        ],
        [
            [
                row.subject.name,
                row.subject.code_masked,
                MEASURE_TYPES.get(row.measure_type, row.measure_type),
                row.measure,
                row.applying_agency,
                row.applied_on,
                row.matter,
                row.authority_name,
                row.source_ref,
            ]
            for row in measures.rows
        ],
        notes=(
            f"{FIGURES[JOINT_MEASURES].name}：共 {len(measures.rows)} 项，联合激励 "
            f"{measures.rewards} 项，联合惩戒 {measures.punishments} 项。",
        ),
    )


OVERLOAD_PARTS = (("entered", "当月列入"), ("exited", "当月移出"), ("on_list_at_end", "月末在列"))


def overload_sheet(figures: MonthFigures) -> LedgerSheet:
    rows: list[list[Cell]] = []
    for part, heading in OVERLOAD_PARTS:
        for row in getattr(figures.overload, part):
            rows.append(
                [heading, *_entry(row.entry), IDENTIFIED_BY.get(row.identified_by, ""),
                 row.basis_conduct]
            )  # fmt: skip
    return LedgerSheet(
        "超限超载失信当事人名单",
        [
            Column("情况", 10),
            Column("当事人", 28),
            Column("代码", 22),
            Column("地区", 10),
            Column("列入日期", 14, DATE),
            Column("移出日期", 14, DATE),
            Column("移出方式", 16),
            Column("认定依据", 36),
            Column("认定机关", 24),
            Column("决定文号", 18),
            Column("列入名单的原因", 24),
            Column("依据记录的违法行为", 20),
        ],
        rows,
        notes=(f"{FIGURES[OVERLOAD].name}（{figures.month.chinese}）",),
    )


def _entry(row: ListEntryRow) -> list[Cell]:
    return [
        row.subject.name,
        row.subject.code_masked,
        region_label(row.subject.region_code),
        row.entered_on,
        row.left_on,
        HOW_LEFT.get(row.how_left or "", row.how_left),
        row.basis,
        row.authority_name,
        row.source_ref,
    ]
