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
    deadline_text,
    missing_text,
    record_remarks,
    share_text,
    yes_no,
)
from api.console.vocabulary import EVENT_NAMES
from api.templating import chinese_date, chinese_moment
from api.web import KINDS, OUTCOMES, STATUSES
from domain.regions import region_label
from service.reporting.cases import CaseCounts
from service.reporting.definitions import (
    CASES,
    COMPLETENESS,
    FIGURES,
    FILL,
    JOINT_MEASURES,
    LISTS,
    OVERLOAD,
    TIMELINESS,
)
from service.reporting.lists import ListEntryRow
from service.reporting.monthly import MonthFigures, fraction

LEDGER_PURPOSE = "月度信用交通工作台账报送"
LEDGER_ACTION = "report_ledger"
# The late and the incomplete records listed per authority at most (the figures count them all).
LEDGER_RECORDS = 5000


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
            for key in (TIMELINESS, COMPLETENESS, FILL, CASES, LISTS, JOINT_MEASURES, OVERLOAD)
        ],
    )


def ledger_sheets(figures: MonthFigures) -> list[LedgerSheet]:
    """A sheet per figure, in the cover's order."""
    return [
        timeliness_sheet(figures),
        late_sheet(figures),
        completeness_sheet(figures),
        incomplete_sheet(figures),
        case_sheet(figures),
        case_rows_sheet(figures),
        list_sheet(figures),
        joint_measure_sheet(figures),
        overload_sheet(figures),
    ]


def rate_format(figures: MonthFigures) -> str:
    """A 及时率, 合格率 or 填报率 cell, a fraction, shown with the places the policy rounds it
    to."""
    places = figures.rate_decimal_places
    return f"0.{'0' * places}%" if places else "0%"


def _shown_at_most(name: str, cut: list[str]) -> tuple[str, ...]:
    if not cut:
        return ()
    return (
        f"{'、'.join(cut)}{name}较多，每个认定机关仅列出 {LEDGER_RECORDS} 条；汇总表的数字为全部。",
    )


def timeliness_sheet(figures: MonthFigures) -> LedgerSheet:
    report = figures.timeliness
    named = authority_labels((g.key, g.name) for g in report.groups)
    rows: list[list[Cell]] = [
        [named[g.key], g.key, g.decided, g.on_time, fraction(g.rate), g.late] for g in report.groups
    ]
    rows.append(
        ["全部认定机关", None, report.decided, report.on_time, fraction(report.rate), report.late]
    )
    return LedgerSheet(
        "双公示及时率",
        [
            Column("认定机关", 28),
            Column("认定机关代码", 22),
            Column("作出决定", 10, WHOLE),
            Column("按期上报", 10, WHOLE),
            Column("及时率", 10, rate_format(figures)),
            Column("迟报", 10, WHOLE),
        ],
        rows,
        notes=(
            f"{FIGURES[TIMELINESS].name}：{figures.month.chinese}作出决定的行政许可、行政处罚信息，"
            f"自决定之日起 {deadline_text(report.deadline_days, report.working_days)}内上报为按期"
            f"（政策版本 {report.policy_version}）。",
        ),
    )


def late_sheet(figures: MonthFigures) -> LedgerSheet:
    report = figures.timeliness
    named = authority_labels((g.key, g.name) for g in report.groups)
    rows: list[list[Cell]] = [
        [
            named.get(row.authority_code, row.authority_name),
            EVENT_NAMES.get(row.type, row.type),
            row.source_ref,
            row.decision_date,
            row.due_on,
            row.recorded_on,
            row.days_late,
            "是" if row.due_provisional else None,
            record_remarks(row.correction_count, row.revoked) or None,
        ]
        for group in report.groups
        for row in group.late_records
    ]
    cut = [named[g.key] for g in report.groups if g.late > len(g.late_records)]
    return LedgerSheet(
        "迟报明细",
        [
            Column("认定机关", 28),
            Column("信息类别", 10),
            Column("决定文书号", 24),
            Column("决定日期", 14, DATE),
            Column("应报日期", 14, DATE),
            Column("记录日期", 14, DATE),
            Column("迟报（工作日）", 10, WHOLE),
            Column("应报日期暂按周末推算", 12),
            Column("备注", 16),
        ],
        rows,
        notes=(
            f"迟报的行政许可、行政处罚信息（{figures.month.chinese}作出决定），按认定机关、迟报"
            "工作日数从多到少排列。",
            *_shown_at_most("迟报", cut),
        ),
    )


def completeness_sheet(figures: MonthFigures) -> LedgerSheet:
    report = figures.completeness
    named = authority_labels((g.key, g.name) for g in report.groups)
    rows: list[list[Cell]] = [
        [
            named[g.key],
            g.key,
            g.records,
            g.complete,
            fraction(g.rate),
            g.incomplete,
            g.fields_filled,
            g.fields_expected,
            fraction(g.fill_rate),
            missing_text(g.most_missing) or None,
        ]
        for g in report.groups
    ]
    rows.append(
        [
            "全部认定机关",
            None,
            report.records,
            report.complete,
            fraction(report.rate),
            report.incomplete,
            report.fields_filled,
            report.fields_expected,
            fraction(report.fill_rate),
            missing_text(report.most_missing) or None,
        ]
    )
    return LedgerSheet(
        "合格率",
        [
            Column("认定机关", 28),
            Column("认定机关代码", 22),
            Column("记录", 10, WHOLE),
            Column("合格记录", 10, WHOLE),
            Column("合格率", 10, rate_format(figures)),
            Column("不合格", 10, WHOLE),
            Column("已填写指标项", 12, WHOLE),
            Column("应填写指标项", 12, WHOLE),
            Column("填报率", 10, rate_format(figures)),
            Column("最常缺少的指标项（缺少的记录条数）", 60),
        ],
        rows,
        notes=(
            f"{FIGURES[COMPLETENESS].name}：{figures.month.chinese}作出决定的行政许可、行政处罚"
            f"信息，已填写的指标项达到 {share_text(report.threshold)} 的为合格记录"
            f"（政策版本 {report.policy_version}）；{FIGURES[FILL].name}为其已填写的指标项数之和"
            "占应填写的指标项数之和的比例（逐项累计，不是各条记录填写比例的平均数）。",
        ),
    )


def incomplete_sheet(figures: MonthFigures) -> LedgerSheet:
    report = figures.completeness
    named = authority_labels((g.key, g.name) for g in report.groups)
    rows: list[list[Cell]] = [
        [
            named.get(row.authority_code, row.authority_name),
            EVENT_NAMES.get(row.type, row.type),
            row.source_ref,
            row.decision_date,
            row.fields_filled,
            row.fields_total,
            fraction(row.share),
            missing_text(row.missing, counted=False),
            record_remarks(row.correction_count, row.revoked) or None,
        ]
        for group in report.groups
        for row in group.incomplete_records
    ]
    cut = [named[g.key] for g in report.groups if g.incomplete > len(g.incomplete_records)]
    return LedgerSheet(
        "不合格记录",
        [
            Column("认定机关", 28),
            Column("信息类别", 10),
            Column("决定文书号", 24),
            Column("决定日期", 14, DATE),
            Column("已填写指标项", 10, WHOLE),
            Column("指标项", 10, WHOLE),
            Column("填写比例", 10, rate_format(figures)),
            Column("所缺指标项（标准字段名、中文名称）", 60),
            Column("备注", 16),
        ],
        rows,
        notes=(
            f"不合格的行政许可、行政处罚信息（{figures.month.chinese}作出决定），按认定机关、"
            "填写比例从低到高排列。",
            *_shown_at_most("不合格记录", cut),
        ),
    )


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
