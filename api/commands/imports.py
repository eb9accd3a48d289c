"""Batch import of a recording agency's 双公示 file over HTTP."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile
from starlette.concurrency import run_in_threadpool

from api.auth import Recorder
from api.deps import ServicesDep
from api.errors import AUTHENTICATED, WITH_BODY, Problem, problems
from api.schemas import ImportReportBody
from service.importing import ImportFileError, import_stream

router = APIRouter(prefix="/v1", tags=["recording"], responses=problems(*AUTHENTICATED, *WITH_BODY))


@router.post("/imports", response_model=ImportReportBody)
async def import_file(file: UploadFile, services: ServicesDep, caller: Recorder) -> dict:
    """Import a CSV (UTF-8 or GBK) or XLSX file with the national CF_* (penalty) or XK_*
    (licence) columns. Idempotent: re-sending a file adds nothing. Bad rows are reported with
    their line number and reason and never stop or half-write the good ones."""
    try:
        report = await run_in_threadpool(
            import_stream,
            file.file,
            file.filename or "upload",
            services.files,
            recorded_by=caller.client_id,
            permit=caller.permit(),
        )
    except ImportFileError as error:
        raise Problem(422, "import-file-invalid", str(error)) from None
    return report.to_dict()
