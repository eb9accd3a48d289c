"""A credit report as a PDF, in Simplified Chinese, with ReportLab.

Why ReportLab: the service must run on a machine with only python3 and pip, so the PDF path may
need no system library (WeasyPrint needs Pango, so it cannot be the default); ReportLab is
BSD-licensed, pure Python over wheels, long maintained, and ships the Adobe-GB1 CID font
`STSong-Light`, so Chinese needs no font file: the text is written as Unicode CIDs with their
ToUnicode map, stays selectable and extractable (a test reads it back with pypdf), and every PDF
reader shows it in its own Song typeface (Acrobat's Adobe-GB1 pack, WPS, Foxit, PDFium and
pdf.js map the font to a system CJK font). AGPL libraries (PyMuPDF) were ruled out: a government
service would not accept the licence. The QR code is `segno` (pure Python), drawn as vector
squares, so the page needs no image library.

Output is deterministic (ReportLab's `invariant` mode: no creation time, a fixed document id):
the same contents and issuance give the same bytes. The bytes are what verification hashes."""

from __future__ import annotations

import base64
import io
from datetime import UTC, tzinfo
from typing import Any

import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import BaseDocTemplate

from api.console.labels import KINDS, LISTS, SCHEMES, SECTORS, SEVERITIES, label, list_basis
from api.console.labels import summary as summary_text
from api.templating import chinese_date, chinese_moment
from service.credit_reports.reports import Issuance
from service.credit_reports.sealing import STATEMENT_FORMAT

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

TITLES = {"credit": "公共信用信息报告", "special": "专项信用报告"}
SPECIAL_DOMAINS = {"transport": "交通运输领域"}
SECTION_TITLES = {
    "basic": "基本信息",
    "licences": "行政许可信息",
    "penalties": "行政处罚信息",
    "dishonesty": "失信行为信息",
    "commitments": "信用承诺及履约信息",
    "ratings": "信用评价信息",
    "lists": "红名单、黑名单及重点关注名单信息",
    "joint_measures": "联合奖惩信息",
    "objections": "异议处理中的信息",
    "statement": "主体说明",
}
EMPTY = {
    "licences": "报告期内无公示中的行政许可信息。",
    "penalties": "报告期内无公示中的行政处罚信息。",
    "dishonesty": "报告期内无公示中的失信行为信息。",
    "commitments": "报告期内无公示中的信用承诺信息。",
    "ratings": "报告日无有效的信用评价结果。",
    "lists": "报告日未被列入红名单、黑名单或重点关注名单。",
    "joint_measures": "报告期内无联合奖惩措施。",
    "objections": "无正在处理的异议。",
    "statement": "无。",
}
OUTCOMES = {"fulfilled": "已履行", "breached": "未履行（违背承诺）", "open": "履行中"}
SPECIAL_STATEMENTS = {
    "penalties": ("无行政处罚记录。", "有行政处罚记录 {count} 条（见下表）。"),
    "serious_dishonesty": ("无严重失信行为记录。", "有严重失信行为记录 {count} 条（见下表）。"),
    "black_list": ("未被列入严重失信主体名单。", "被列入严重失信主体名单 {count} 次（见下表）。"),
}
# A sector's statements (format 2): the records behind a count are those of that sector in the
# tables below, which say each record's sector.
SECTOR_STATEMENTS = {
    "penalties": ("无行政处罚记录。", "有行政处罚记录 {count} 条。"),
    "serious_dishonesty": ("无严重失信行为记录。", "有严重失信行为记录 {count} 条。"),
    "black_list": ("未被列入严重失信主体名单。", "被列入严重失信主体名单 {count} 次。"),
}
SUBSECTIONS = "一二三四五六七八九十"
SPECIAL_TABLES = {
    "penalties": "行政处罚记录",
    "serious_dishonesty": "严重失信行为记录",
    "black_list": "严重失信主体名单",
}
NUMERALS = "一二三四五六七八九十"
NOTES = (
    "本报告由交通运输信用记录系统依据记录机关报送、系统留存的信用记录自动生成，内容与报告所列签名检查点时"
    "日志中的记录一致；报告版式参照国家公共信用信息中心《公共信用信息报告标准（2022年版）》。",
    "已信用修复的记录依《信用修复管理办法》（国家发展改革委令第36号）不再公示、共享和使用，本报告不予列示；"
    "以其为依据的名单认定随之失效。已撤销的记录不予列示。",
    "标注“异议处理中”的记录，信用主体已提出异议，认定机关正在处理。",
    "本报告不含主体的身份证件号码全文；个人身份证件号码按规定部分隐藏。",
)
SPECIAL_NOTES = (
    "本专项信用报告依发改财金〔2025〕565号文件出具，用于替代该领域有无违法违规记录证明。",
    "统计口径：决定日期在报告期内、报告日未被撤销且未经信用修复的记录；公示期已满的记录仍计入。",
)

_BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=14, wordWrap="CJK")
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=8, leading=11)
_MONO = ParagraphStyle("mono", parent=_SMALL, fontName="Courier", wordWrap="LTR", splitLongWords=1)
_TITLE = ParagraphStyle(
    "title", fontName=FONT, fontSize=20, leading=28, alignment=TA_CENTER, spaceAfter=2 * mm
)
_SUBTITLE = ParagraphStyle("subtitle", parent=_BODY, alignment=TA_CENTER, spaceAfter=4 * mm)
_HEADING = ParagraphStyle(
    "heading", fontName=FONT, fontSize=12.5, leading=18, spaceBefore=5 * mm, spaceAfter=2 * mm
)
_GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#7a7a7a")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
)
_FIELDS = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#7a7a7a")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#e8edf3")),
    ]
)
WIDTH = A4[0] - 36 * mm


class QrCode(Flowable):
    """The verification address as a QR code (error correction M), drawn module by module."""

    def __init__(self, data: str, size: float):
        super().__init__()
        self.qr = segno.make_qr(data, error="m", boost_error=False)
        self.size = size
        self.width = self.height = size

    def draw(self) -> None:
        matrix = self.qr.matrix
        border = 2
        count = len(matrix) + 2 * border
        module = self.size / count
        canvas = self.canv
        canvas.setFillColor(colors.black)
        for y, row in enumerate(matrix):
            for x, dark in enumerate(row):
                if dark:
                    canvas.rect(
                        (x + border) * module,
                        self.size - (y + border + 1) * module,
                        module,
                        module,
                        stroke=0,
                        fill=1,
                    )


def render(contents: dict[str, Any], issuance: Issuance, zone: tzinfo) -> bytes:
    """The report as PDF bytes."""
    out = io.BytesIO()
    title = TITLES[contents["kind"]]
    if contents["kind"] == "special":
        title += f"（{SPECIAL_DOMAINS.get(contents['special']['domain'], '')}）"
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"{title} {issuance.number}",
        author="交通运输信用记录系统",
        subject=contents["subject"]["name"],
        invariant=1,
    )
    story: list[Flowable] = [Paragraph(title, _TITLE)]
    if contents["kind"] == "special":
        story.append(Paragraph("（替代有无违法违规记录证明）", _SUBTITLE))
    else:
        story.append(Spacer(1, 3 * mm))
    story += [_head(contents, issuance, zone)]
    numbered = iter(NUMERALS)
    story += _section(next(numbered), "basic", [_basic(contents)])
    if contents["kind"] == "special":
        story += _special(contents, numbered)
    else:
        for section in contents["sections"]:
            story += _section(next(numbered), section, _body(section, contents))
    story += _notes(contents, issuance, zone)

    def footer(canvas: Any, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.HexColor("#444444"))
        canvas.drawString(
            18 * mm,
            10 * mm,
            f"报告编号 {issuance.number}　核验码见首页　可扫码或登录核验页面核验真伪",
        )
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _p(text: Any, style: ParagraphStyle = _BODY) -> Paragraph:
    escaped = str(text if text is not None else "").replace("&", "&amp;").replace("<", "&lt;")
    return Paragraph(escaped.replace(">", "&gt;"), style)


def _head(contents: dict[str, Any], issuance: Issuance, zone: tzinfo) -> Table:
    period = contents["period"]
    known = "报告生成时系统已记录的全部信息"
    if contents["known_before"]:
        known = f"截至{chinese_date(contents['report_day'])}已记录的信息"
    fields = [
        ("报告编号", issuance.number),
        ("核验码", issuance.code),
        ("生成时间", chinese_moment(issuance.issued_at, zone)),
        ("报告日", chinese_date(contents["report_day"])),
        ("报告期间", f"{chinese_date(period['start'])}至{chinese_date(period['end'])}"),
        ("信息范围", known),
    ]
    table = Table(
        [[_p(name), _p(value)] for name, value in fields],
        colWidths=[24 * mm, WIDTH - 24 * mm - 42 * mm],
    )
    table.setStyle(_FIELDS)
    qr = Table(
        [[QrCode(issuance.verify_url, 38 * mm)], [_p("扫码核验", _SMALL)]],
        colWidths=[42 * mm],
        style=TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER")]),
    )
    outer = Table([[table, qr]], colWidths=[WIDTH - 42 * mm, 42 * mm])
    outer.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    )
    return outer


def _section(numeral: str, section: str, body: list[Flowable]) -> list[Flowable]:
    return [
        KeepTogether([_p(f"{numeral}、{SECTION_TITLES[section]}", _HEADING), *body[:1]]),
        *body[1:],
    ]


def _basic(contents: dict[str, Any]) -> Table:
    subject = contents["subject"]
    sectors = "、".join(label(SECTORS, s) for s in subject["sectors"]) or "—"
    fields = [
        ("主体名称", subject["name"]),
        ("主体代码", subject["code_masked"]),
        ("主体类别", label(KINDS, subject["kind"])),
        ("行政区划代码", subject["region_code"]),
        ("所属行业", sectors),
    ]
    table = Table(
        [[_p(name), _p(value)] for name, value in fields], colWidths=[30 * mm, WIDTH - 30 * mm]
    )
    table.setStyle(_FIELDS)
    return table


def _body(section: str, contents: dict[str, Any]) -> list[Flowable]:
    entries = contents.get(section)
    if section == "statement":
        return [_p(entries or EMPTY[section])]
    if not entries:
        return [_p(EMPTY[section])]
    if section == "ratings":
        return [_ratings(entries)]
    if section == "lists":
        return [_lists(entries)]
    return [_records(section, entries)]


def _marks(entry: dict[str, Any]) -> str:
    marks = []
    if entry.get("severity"):
        marks.append(f"{label(SEVERITIES, entry['severity'])}")
    if entry.get("objection_case"):
        marks.append(f"异议处理中（{entry['objection_case']}）")
    if entry.get("corrected"):
        marks.append("已更正")
    if entry.get("outcome"):
        marks.append(OUTCOMES[entry["outcome"]])
    if entry.get("publish_until"):
        marks.append(f"公示至{chinese_date(entry['publish_until'])}前")
    if "sector" in entry:  # a special report with per-sector statements says each one's
        marks.append(
            f"所属行业：{label(SECTORS, entry['sector'])}" if entry["sector"] else "未标注行业"
        )
    return "；".join(marks)


def _records(section: str, entries: list[dict[str, Any]]) -> Table:
    header = ["决定文书号", "决定日期", "决定机关", "内容", "状态"]
    rows = [[_p(h) for h in header]]
    for entry in entries:
        text = summary_text(entry["summary"])
        if entry.get("valid_from"):
            text += f"（有效期{chinese_date(entry['valid_from'])}起"
            text += (
                f"至{chinese_date(entry['valid_until'])}）" if entry.get("valid_until") else "）"
            )
        if entry.get("due_date"):
            text += f"（履约期限{chinese_date(entry['due_date'])}）"
        rows.append(
            [
                _p(entry["source_ref"], _SMALL),
                _p(chinese_date(entry["decision_date"]), _SMALL),
                _p(entry["authority"], _SMALL),
                _p(text, _SMALL),
                _p(_marks(entry), _SMALL),
            ]
        )
    widths = [34 * mm, 22 * mm, 34 * mm, WIDTH - 124 * mm, 34 * mm]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(_GRID)
    return table


def _ratings(entries: list[dict[str, Any]]) -> Table:
    rows = [[_p(h) for h in ("评价体系", "等级", "分值", "有效期", "评价机关")]]
    for grade in entries:
        valid = f"{chinese_date(grade['valid_from'])}至{chinese_date(grade['valid_until'])}"
        rows.append(
            [
                _p(label(SCHEMES, grade["scheme"]), _SMALL),
                _p(
                    grade["grade"] + ("（列入黑名单，降为最低等级）" if grade["forced_by"] else ""),
                    _SMALL,
                ),
                _p(grade["score"] or "—", _SMALL),
                _p(valid, _SMALL),
                _p(grade["authority"], _SMALL),
            ]
        )
    table = Table(
        rows, colWidths=[40 * mm, 30 * mm, 18 * mm, 50 * mm, WIDTH - 138 * mm], repeatRows=1
    )
    table.setStyle(_GRID)
    return table


def _lists(entries: list[dict[str, Any]]) -> Table:
    rows = [[_p(h) for h in ("名单", "列入日期", "计划移出日期", "依据", "认定机关")]]
    for member in entries:
        rows.append(
            [
                _p(label(LISTS, member["list_type"]), _SMALL),
                _p(chinese_date(member["entered_on"]), _SMALL),
                _p(chinese_date(member["planned_end"]) or "—", _SMALL),
                _p(list_basis(member["basis"] or "", member["derived"]), _SMALL),
                _p(member["authority"] or "—", _SMALL),
            ]
        )
    table = Table(
        rows, colWidths=[38 * mm, 24 * mm, 24 * mm, WIDTH - 124 * mm, 38 * mm], repeatRows=1
    )
    table.setStyle(_GRID)
    return table


def _special(contents: dict[str, Any], numbered: Any) -> list[Flowable]:
    special = contents["special"]
    period = contents["period"]
    domain = SPECIAL_DOMAINS.get(special["domain"], special["domain"])
    lines = [
        _p(
            f"报告期内（{chinese_date(period['start'])}至{chinese_date(period['end'])}），"
            f"该主体在{domain}："
        )
    ]
    for index, statement in enumerate(special["statements"], start=1):
        none, some = SPECIAL_STATEMENTS[statement["topic"]]
        text = none if statement["count"] == 0 else some.format(count=statement["count"])
        lines.append(_p(f"{index}. {text}"))
    story: list[Flowable] = [_p(f"{next(numbered)}、信用状况声明", _HEADING), *lines]
    if "sectors" in special:
        story += _by_sector(special, numbered)
    for statement in special["statements"]:
        if statement["records"]:
            story.append(_p(f"{next(numbered)}、{SPECIAL_TABLES[statement['topic']]}", _HEADING))
            story.append(_records(statement["topic"], statement["records"]))
    return story


def _by_sector(special: dict[str, Any], numbered: Any) -> list[Flowable]:
    """The statements again for each sector asked, and what they leave out, said plainly."""
    story: list[Flowable] = [_p(f"{next(numbered)}、分行业信用状况声明", _HEADING)]
    for index, block in enumerate(special["sectors"]):
        name = label(SECTORS, block["sector"])
        story.append(_p(f"（{SUBSECTIONS[index % 10]}）报告期内，该主体在{name}行业："))
        for number, statement in enumerate(block["statements"], start=1):
            none, some = SECTOR_STATEMENTS[statement["topic"]]
            text = none if statement["count"] == 0 else some.format(count=statement["count"])
            story.append(_p(f"{number}. {text}"))
    unfiled = sum(special["without_sector"].values())
    story.append(
        _p(
            "分行业声明仅统计记录机关记录时标注了所属行业的记录；未标注行业的记录"
            + (f"（本报告期内 {unfiled} 条）" if unfiled else "")
            + "只计入上述交通运输领域的声明，不计入任何行业的声明。",
            _SMALL,
        )
    )
    return story


def _notes(contents: dict[str, Any], issuance: Issuance, zone: tzinfo) -> list[Flowable]:
    checkpoint = issuance.checkpoint
    notes = (*SPECIAL_NOTES, *NOTES) if contents["kind"] == "special" else NOTES
    fields = [
        ("核验网址", _p(issuance.verify_url, _MONO)),
        ("核验码", _p(issuance.code)),
        (
            "反映的记录",
            _p(f"主体记录第 {issuance.stream_version} 版，日志位置 {issuance.position}", _SMALL),
        ),
        (
            "签名检查点",
            _p(
                f"日志规模 {checkpoint.tree_size}，"
                f"签名时间 {chinese_moment(checkpoint.issued_at, zone)}，"
                f"日志名 {checkpoint.origin}",
                _SMALL,
            ),
        ),
        ("检查点根哈希", _p(checkpoint.root.hex(), _MONO)),
        ("内容摘要", _p(f"SHA-256 {issuance.contents_sha256}", _MONO)),
        (
            "签名对象",
            _p(
                f"{STATEMENT_FORMAT} issued_at {issuance.issued_at.astimezone(UTC).isoformat()}",
                _MONO,
            ),
        ),
        (
            "报告签名",
            _p(f"Ed25519 {issuance.key_id} {base64.b64encode(issuance.signature).decode()}", _MONO),
        ),
        ("适用规则", _p(f"信用政策版本 {contents['basis']['policy_version']}", _SMALL)),
    ]
    table = Table(
        [[_p(name, _SMALL), value] for name, value in fields], colWidths=[26 * mm, WIDTH - 26 * mm]
    )
    table.setStyle(_FIELDS)
    story: list[Flowable] = [_p("报告说明", _HEADING)]
    story += [_p(f"{index}. {note}", _SMALL) for index, note in enumerate(notes, start=1)]
    story += [KeepTogether([_p("核验信息", _HEADING), table])]
    return story
