"""Run in a process of its own by tests/api/test_attack_uploads.py: serve the API over ASGI,
upload each named hostile file as a recorder would, and print, per file, the answer and how far
the process's resident memory grew while it was handled.

python -m tests.api.upload_memory_probe DATABASE_URL WORKDIR NAME...

Growth is the kernel's peak resident set (VmHWM, reset to the current size just before the
upload through /proc/self/clear_refs) minus the resident set (VmRSS) before it. Where the peak
cannot be reset, the peak since the start is used instead, which can only overstate growth."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path

import httpx

from api.app import create_app
from service.bootstrap import build_services
from service.commanding.importing.limits import ImportLimits
from service.settings import Settings
from tests import attack_files
from tests.builders import AUTHORITY_CODE, penalty_file, penalty_file_row


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _files(workdir: Path) -> dict[str, Path]:
    made = {}
    for name in sys.argv[3:]:
        suffix = ".csv" if name.startswith("csv") else ".xlsx"
        path = workdir / f"{name}{suffix}"
        if name == "xlsx-at-the-limits":  # just under every default limit
            limits = ImportLimits()
            attack_files.at_the_limits(
                path,
                strings=limits.max_shared_strings,
                string_bytes=limits.max_shared_strings_bytes - 64 * 1024,
                rows=limits.max_rows,
            )
        else:
            attack_files.BOMBS[name](path)
        made[name] = path
    return made


async def main() -> None:
    url, workdir = sys.argv[1], Path(sys.argv[2])
    settings = Settings(
        environment="test",
        database_url=url,
        subject_id_key="test-subject-key",
        client_secret_scrypt_n=2,
        client_cache_seconds=0,
        key_cache_seconds=0,
        run_projections_in_api=False,
    )
    services = build_services(settings, migrate=False)
    client, _ = services.clients.create(
        "probe-recorder",
        "recorder",
        "郑州市交通运输局",
        AUTHORITY_CODE,
        authority_codes=[AUTHORITY_CODE],
        sectors=["road_transport"],
    )
    token = services.tokens.issue(client).access_token
    made = _files(workdir)  # before measuring: building them is not the server's work
    app = create_app(settings, services=services)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport,
            base_url="http://credit.test",
            headers={"Authorization": f"Bearer {token}"},
            timeout=600,
        ) as http,
    ):
        # Warm up: both readers loaded (openpyxl, csv), one small file of each kind refused.
        for name, data in (("warm.csv", penalty_file([penalty_file_row(1, CF_JDRQ="x")])),):
            await http.post("/v1/imports", files={"file": (name, data)})
        attack_files.far_row_sheet(workdir / "warm.xlsx", row=3)
        with (workdir / "warm.xlsx").open("rb") as warm:
            await http.post("/v1/imports", files={"file": ("warm.xlsx", warm)})
        for name, path in made.items():
            head = services.ledger.recorder.max_notification_id() or 0
            gc.collect()
            before = _status_kib("VmRSS")
            reset = _reset_peak()
            with path.open("rb") as upload:
                response = await http.post("/v1/imports", files={"file": (path.name, upload)})
            peak = _status_kib("VmHWM")
            body = response.json()
            print(
                json.dumps(
                    {
                        "name": name,
                        "size": path.stat().st_size,
                        "status": response.status_code,
                        "type": body.get("type"),
                        "detail": body.get("detail"),
                        "rejected_count": body.get("rejected_count"),
                        "growth_mb": (peak - before) / 1024,
                        "peak_reset": reset,
                        "written": (services.ledger.recorder.max_notification_id() or 0) - head,
                    }
                ),
                flush=True,
            )
            del response, body
    services.close_sync()


if __name__ == "__main__":
    asyncio.run(main())
