"""Batch import of a recording agency's 双公示 file over HTTP."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import Recorder
from api.deps import ServicesDep
from api.errors import AUTHENTICATED, WITH_BODY, problems
from api.schemas import ImportReportBody
from service.commanding.commands import RegisterSubject
from service.commanding.importing.batch import import_stream
from service.commanding.importing.columns import COLUMNS, COMMANDS, LICENCE, PENALTY, PREFIX
from service.commanding.importing.limits import ImportLimits
from service.commanding.importing.report import ImportReport
from service.commanding.importing.spreadsheet import CSV_ENCODING, CSV_MEDIA_TYPE

router = APIRouter(prefix="/v1", tags=["recording"], responses=problems(*AUTHENTICATED, *WITH_BODY))
LAYOUTS = {
    PENALTY: "Penalties (行政处罚): CF_* columns",
    LICENCE: "Licences (行政许可): XK_* columns",
}


def column_table(kind: str) -> str:
    """One layout's columns as a Markdown table: the importer's own table (COLUMNS) with the
    description of the command field each column fills."""
    rows = ["| column | 名称 | required | fills |", "|---|---|---|---|"]
    for column in COLUMNS[kind]:
        name = f"`{column.name}`" + ("" if column.national else " ¹")
        fills = ""
        if column.fills:
            owner, _, field = column.fills.rpartition(".")
            model = RegisterSubject if owner == "subject" else COMMANDS[kind]
            fills = f"`{column.fills}`: {model.model_fields[field].description}"
        reading = "; ".join(part for part in (fills, column.reading) if part)
        rows.append(f"| {name} | {column.title} | {'yes' if column.required else ''} | {reading} |")
    return "\n".join(rows)


def sample_file(kind: str) -> str:
    """A file of one row, its cells from the examples of RegisterSubject and the layout's
    command: what a request body of this operation looks like."""
    subject = RegisterSubject.model_json_schema()["examples"][0]
    record = COMMANDS[kind].model_json_schema()["examples"][0]
    values = {**{f"subject.{k}": v for k, v in subject.items()}, **record}
    header, cells = [], []
    for column in COLUMNS[kind]:
        if column.fills == "subject.kind":
            value: Any = "法人及非法人组织"
        elif column.fills in values and column.name != f"{PREFIX[kind]}XDR_ZJHM":
            value = values[column.fills]
        else:
            continue
        header.append(column.name)
        cells.append("；".join(value) if isinstance(value, list) else str(value))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, cells])
    return out.getvalue()


IMPORT_DESCRIPTION = """Import a CSV (UTF-8 or GBK) or XLSX file with the national CF_* (penalty)
or XK_* (licence) columns, in the multipart field `file`. Unknown subjects are registered.
Idempotent: re-sending a file adds nothing. Bad rows are reported with their line number and
reason and never stop or half-write the good ones. A file that unpacks past the import limits
(an XLSX zip bomb, too many rows or shared strings) is refused whole with 413 `import-too-large`
before anything is written. With `format=csv` (or `Accept: text/csv`) the answer is the rejected
rows as a spreadsheet, the counts in `X-Rows-Read`, `X-Accepted`, `X-Already-Present` and
`X-Rejected`.

The first row names the columns; the file's layout is told by its prefix. Columns of the
national standard not in the tables (the registration numbers the unified social credit code
superseded, XDR_GSZC, XDR_ZZJG, XDR_SWDJ, XDR_SYDW and XDR_SHZZ; a licence's 当前状态 XK_ZT) are
read past, as are the legal representative's ID columns the tables name. ¹ is this service's
own column, not the national standard's.
""" + "".join(f"\n**{LAYOUTS[kind]}**\n\n{column_table(kind)}\n" for kind in COLUMNS)
COUNTS = {
    "X-Rows-Read": "data rows in the file",
    "X-Accepted": "rows recorded now",
    "X-Already-Present": "rows recorded before (re-sent)",
    "X-Rejected": "rows rejected, every one",
    "Content-Disposition": 'attachment; filename="rejected-rows.csv"',
}
CSV_REPORT = {
    "description": "The rejected rows as CSV (UTF-8 with BOM): line, reason and the row's own "
    "cells; a cell that would start a spreadsheet formula is prefixed with '",
    "schema": {"type": "string"},
    "example": "line,reason,CF_XDR_MC,CF_JDRQ\n"
    "4,CF_JDRQ: not a date; use YYYY-MM-DD,郑州宏达道路运输有限公司,2026-13-01\n",
}


@router.post(
    "/imports",
    operation_id="importFile",
    summary="Import a 双公示 file (CF_* or XK_* columns)",
    description=IMPORT_DESCRIPTION,
    response_model=ImportReportBody,
    responses={
        200: {
            "content": {"text/csv": CSV_REPORT},
            "headers": {
                name: {"schema": {"type": "string"}, "description": f"text/csv only: {meaning}"}
                for name, meaning in COUNTS.items()
            },
        }
    },
    openapi_extra={
        "requestBody": {
            "content": {"multipart/form-data": {"example": {"file": sample_file(PENALTY)}}}
        }
    },
)
async def import_file(
    file: Annotated[
        UploadFile,
        File(description="the file: CSV (UTF-8 with or without BOM, or GBK/GB18030) or XLSX"),
    ],
    request: Request,
    services: ServicesDep,
    caller: Recorder,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="csv: the rejected rows as a spreadsheet (also: Accept: text/csv)"),
    ] = None,
):
    as_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
    report = await run_in_threadpool(
        import_stream,
        file.file,
        file.filename or "upload",
        services.files,
        recorded_by=caller.client_id,
        permit=caller.permit(),
        keep_rejected_rows=as_csv,
        limits=ImportLimits.from_settings(services.settings),
    )
    if as_csv:
        return _csv(report)
    return report.to_dict()


def _csv(report: ImportReport) -> Response:
    out = io.StringIO()
    report.write_rejected_csv(out)
    return Response(
        out.getvalue().encode(CSV_ENCODING),
        media_type=CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": 'attachment; filename="rejected-rows.csv"',
            # the counts a JSON report gives, for whoever only keeps the spreadsheet
            "X-Rows-Read": str(report.rows_read),
            "X-Accepted": str(report.accepted),
            "X-Already-Present": str(report.already_present),
            "X-Rejected": str(report.to_dict()["rejected_count"]),
        },
    )
