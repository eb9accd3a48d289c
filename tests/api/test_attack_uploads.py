"""Replayed attacks on uploads and request bodies (issue 12, item 2 and the body-error holes of
item 6): zip bombs, lying headers, entity bombs, enormous CSV lines and cells, an oversized
chunked body, JSON nested 100,000 deep. Each asserts the exact answer, that nothing was written
and, in a process of its own, how far the server's memory grew."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import attack_files
from tests.builders import enterprise, penalty, penalty_file_row
from tests.conftest import ON_POSTGRESQL_ALONE

pytestmark = pytest.mark.api
PROBLEMS = "https://credit-transport.example/problems/"
ROOT = Path(__file__).resolve().parents[2]
TOO_LARGE = PROBLEMS + "import-too-large"
INVALID = PROBLEMS + "import-file-invalid"

BOMB_ANSWERS = {
    "shared-strings-1gb": (
        413,
        TOO_LARGE,
        "the workbook declares 1,073,602,590 bytes once unpacked; at most 268,435,456 are accepted",
    ),
    "ratio-200mb": (
        413,
        TOO_LARGE,
        "part 'xl/sharedStrings.xml' of the workbook inflates more than 200-fold (615,335 bytes "
        "to 209,000,115 or more): refused as a possible zip bomb",
    ),
    "lying-header": (
        422,
        INVALID,
        "part 'xl/sharedStrings.xml' of the workbook cannot be unpacked (BadZipFile: damaged, "
        "encrypted or forged)",
    ),
    "dtd-entities": (
        422,
        INVALID,
        "the workbook declares an XML document type (DTD), which no spreadsheet needs: refused, "
        "as entity declarations can expand without bound",
    ),
    "far-row": (
        413,
        TOO_LARGE,
        "a worksheet reaches row 1,048,576; at most 250,000 rows are accepted in one XLSX file: "
        "split it or save it as CSV",
    ),
}
LONG_LINE = (
    "the line is longer than 1,048,576 characters and was not read (a missing line break, or a "
    "quoted cell never closed?)"
)
LONG_LINE_ZH = "该行超过 1,048,576 个字符，未读取（缺少换行，或引号内的单元格未结束？）"


def head(services) -> int:
    return services.ledger.recorder.max_notification_id() or 0


@pytest.mark.parametrize("name", list(BOMB_ANSWERS))
async def test_an_xlsx_bomb_is_refused_before_parsing(client, services, tmp_path, name):
    path = attack_files.BOMBS[name](tmp_path / f"{name}.xlsx")
    assert path.stat().st_size < 4 * 1024 * 1024  # small on disk, whatever it claims
    with path.open("rb") as upload:
        response = await client.post("/v1/imports", files={"file": (path.name, upload)})
    status, problem, detail = BOMB_ANSWERS[name]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["type"], response.json()["detail"]) == (problem, detail)
    assert head(services) == 0


async def test_too_many_shared_strings_are_refused(client, services, tmp_path):
    path = attack_files.many_shared_strings(tmp_path / "strings.xlsx", 200_001)
    with path.open("rb") as upload:
        response = await client.post("/v1/imports", files={"file": ("strings.xlsx", upload)})
    assert response.status_code == 413
    assert response.json()["type"] == TOO_LARGE
    assert response.json()["detail"] == (
        "the workbook has more than 200,000 distinct texts (shared strings): split the file or "
        "save it as CSV"
    )
    assert head(services) == 0


async def test_a_sheet_wider_than_the_limit_is_refused(client, services, tmp_path):
    path = attack_files.far_row_sheet(tmp_path / "wide.xlsx", row=2, column="XFD")
    with path.open("rb") as upload:
        response = await client.post("/v1/imports", files={"file": ("wide.xlsx", upload)})
    assert (response.status_code, response.json()["detail"]) == (
        413,
        "a worksheet reaches column 16,384; at most 1,000 columns are accepted",
    )
    assert head(services) == 0


async def test_a_csv_line_of_60_mb_is_skipped_unread_and_rejected_with_its_line(
    client, services, tmp_path
):
    path = attack_files.csv_long_line(tmp_path / "line.csv")
    with path.open("rb") as upload:
        response = await client.post("/v1/imports", files={"file": ("line.csv", upload)})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "kind": "penalty",
        "rows_read": 1,
        "accepted": 0,
        "already_present": 0,
        "rejected_count": 1,
        "rejected": [{"line": 2, "reason": LONG_LINE_ZH}],
        "severity_rules": {},
        "severities": [],
        "flagged_count": 0,
        "flagged": [],
    }
    assert head(services) == 0


async def test_a_header_line_of_60_mb_refuses_the_file(client, services, tmp_path):
    path = attack_files.csv_long_line(tmp_path / "header.csv", in_header=True)
    with path.open("rb") as upload:
        response = await client.post("/v1/imports", files={"file": ("header.csv", upload)})
    assert response.status_code == 422
    assert response.json()["type"] == INVALID
    assert response.json()["detail"] == f"the header (line 1) cannot be read: {LONG_LINE}"
    assert head(services) == 0


async def test_a_cell_over_the_limit_rejects_its_row(client, services, tmp_path):
    path = attack_files.csv_with_cells(
        tmp_path / "cells.csv",
        [
            penalty_file_row(1, CF_SY="超" * 40_000),  # over the cell limit
            penalty_file_row(2, CF_NR="x" * 200_000),  # over the csv module's own field limit
        ],
    )
    with path.open("rb") as upload:
        response = await client.post("/v1/imports", files={"file": ("cells.csv", upload)})
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == [
        {"line": 2, "reason": "CF_SY 违法事实：单元格有 40,000 个字符，最多接受 32,767 个"},
        {"line": 3, "reason": "有单元格超过 131,072 个字符（引号内的单元格未结束？）"},
    ]
    assert response.json()["accepted"] == 0
    assert head(services) == 0


async def test_an_oversized_chunked_body_is_413_not_malformed_json(client, services):
    body = json.dumps(enterprise(1, name="宏达" * 200_000)).encode()
    assert len(body) > 256 * 1024

    async def chunks():
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    response = await client.post(
        "/v1/subjects", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers  # sent chunked
    assert response.status_code == 413
    assert response.json()["type"] == PROBLEMS + "payload-too-large"
    assert response.json()["detail"] == "the request body is larger than 262144 bytes"
    assert head(services) == 0


DEEP = "the request body's JSON is nested deeper than 32 levels"


async def test_json_nested_100000_deep_says_so(client, services):
    response = await client.post(
        "/v1/subjects", content=b"[" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert (response.json()["type"], response.json()["detail"]) == (
        PROBLEMS + "malformed-json",
        DEEP,
    )
    assert head(services) == 0


async def test_json_nested_past_the_limit_but_parseable_is_the_same_answer(client, services):
    subject = (await client.post("/v1/subjects", json=enterprise(1))).json()
    before = head(services)
    nested: object = "x"
    for _ in range(40):
        nested = [nested]
    body = {**penalty("郑交执罚〔2026〕0001号"), "facts": nested}
    response = await client.post(f"/v1/subjects/{subject['subject_id']}/events", json=body)
    assert response.status_code == 400
    assert (response.json()["type"], response.json()["detail"]) == (
        PROBLEMS + "malformed-json",
        DEEP,
    )
    assert head(services) == before


def _probe(database_url: str, workdir: Path, *names: str) -> list[dict]:
    completed = subprocess.run(
        [sys.executable, "-m", "tests.api.upload_memory_probe", database_url, str(workdir), *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]


MEMORY_BUDGET_MB = 100


def test_no_bomb_grows_the_server_by_more_than_100_mb(settings, tmp_path):
    names = [*BOMB_ANSWERS, "csv-60mb-line", "csv-huge-cell"]
    results = {result["name"]: result for result in _probe(settings.database_url, tmp_path, *names)}
    assert set(results) == set(names)
    for name, (status, problem, _) in BOMB_ANSWERS.items():
        assert (results[name]["status"], results[name]["type"]) == (status, problem), name
    assert results["csv-60mb-line"]["size"] > 60 * 1024 * 1024
    assert (results["csv-60mb-line"]["status"], results["csv-60mb-line"]["rejected_count"]) == (
        200,
        1,
    )
    assert results["csv-huge-cell"]["rejected_count"] == 1
    for name, result in results.items():
        assert result["growth_mb"] < MEMORY_BUDGET_MB, result
        # the huge-cell file's second row is a good record: the subject and its penalty
        assert result["written"] == (2 if name == "csv-huge-cell" else 0), result


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_workbook_just_under_every_limit_stays_within_100_mb(settings, tmp_path):
    """The worst the archive checks let through: 200,000 shared strings filling 16 MiB and
    250,000 rows (each rejected, so the report is as large as it gets). Its rows touch no store,
    so SQLite alone."""
    [result] = _probe(settings.database_url, tmp_path, "xlsx-at-the-limits")
    assert (result["status"], result["rejected_count"], result["written"]) == (200, 249_999, 0)
    assert result["growth_mb"] < MEMORY_BUDGET_MB, result


@ON_POSTGRESQL_ALONE
def test_credit_import_refuses_a_bomb_in_one_line_with_exit_code_2(settings, services, tmp_path):
    from tests.integration.test_cli import credit

    path = attack_files.shared_strings_bomb(tmp_path / "bomb.xlsx")
    result = credit(settings, "import", str(path))
    assert result.returncode == 2, result.stderr
    assert (
        "import refused: the workbook declares 1,073,602,590 bytes once unpacked; at most "
        "268,435,456 are accepted"
    ) in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert head(services) == 0
