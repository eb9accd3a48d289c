"""Batch import of a recording agency's 双公示 file over HTTP."""

from __future__ import annotations

import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import Recorder
from api.deps import ServicesDep
from api.errors import AUTHENTICATED, WITH_BODY, problems
from api.schemas import ImportReportBody
from service.commanding.importing.batch import import_stream
from service.commanding.importing.limits import ImportLimits
from service.commanding.importing.report import ImportReport
from service.commanding.importing.spreadsheet import CSV_ENCODING, CSV_MEDIA_TYPE

router = APIRouter(prefix="/v1", tags=["recording"], responses=problems(*AUTHENTICATED, *WITH_BODY))
CSV_REPORT = {
    "description": "The rejected rows as CSV (UTF-8 with BOM): line, reason and the row's own "
    "cells; a cell that would start a spreadsheet formula is prefixed with '",
    "schema": {"type": "string"},
}


@router.post(
    "/imports",
    response_model=ImportReportBody,
    responses={200: {"content": {"text/csv": CSV_REPORT}}},
)
async def import_file(
    file: UploadFile,
    request: Request,
    services: ServicesDep,
    caller: Recorder,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="csv: the rejected rows as a spreadsheet (also: Accept: text/csv)"),
    ] = None,
):
    """Import a CSV (UTF-8 or GBK) or XLSX file with the national CF_* (penalty) or XK_*
    (licence) columns. Idempotent: re-sending a file adds nothing. Bad rows are reported with
    their line number and reason and never stop or half-write the good ones. A file that
    unpacks past the import limits (an XLSX zip bomb, too many rows or shared strings) is
    refused whole with 413 `import-too-large` before anything is written."""
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
