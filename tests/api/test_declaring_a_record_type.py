"""A new published record type needs its event (with its traits), its command and its tests:
declared here and nowhere else, it is recorded, projected, listed with its publication window,
corrected, and counted in a status's published records, now and on a past day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Literal
from uuid import UUID

import pytest

from domain.events import (
    RECORD_EVENT_TYPES,
    RecordEvent,
    RecordTraits,
    Span,
    unregister_record_type,
)
from service.commanding.commands import (
    RECORD_COMMANDS,
    RecordCommand,
    Reference,
    record_command_adapter,
)
from tests.builders import AUTHORITY_CODE, AUTHORITY_NAME, enterprise

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def safety_standard() -> Iterator[type[RecordEvent]]:
    """The record type this module declares, taken out of the catalogue again afterwards."""

    class SafetyStandardCertified(RecordEvent):
        """安全生产标准化达标: certified to a level of the work-safety standard, published for
        the certificate's validity."""

        TOPIC = "credit:SafetyStandardCertified"
        TRAITS = RecordTraits(
            family="safety_standard",
            summary=("level", "certificate_number"),
            published=Span(end="valid_until"),
        )
        level: str
        certificate_number: str
        valid_until: date

    class CertifySafetyStandard(RecordCommand):
        type: Literal["SafetyStandardCertified"]
        level: Literal["一级", "二级", "三级"]
        certificate_number: Reference
        valid_until: date

    try:
        yield SafetyStandardCertified
    finally:
        RECORD_COMMANDS.unregister(CertifySafetyStandard)
        unregister_record_type(SafetyStandardCertified)
    assert "SafetyStandardCertified" not in RECORD_EVENT_TYPES
    assert "SafetyStandardCertified" not in RECORD_COMMANDS


def certified(source_ref: str, decided: str, valid_until: str, level: str = "二级") -> dict:
    return {
        "type": "SafetyStandardCertified",
        "decision_date": decided,
        "authority_name": AUTHORITY_NAME,
        "authority_code": AUTHORITY_CODE,
        "source_ref": source_ref,
        "level": level,
        "certificate_number": f"AQBZ-{source_ref}",
        "valid_until": valid_until,
    }


async def test_a_record_type_declared_with_its_command_is_recorded_projected_and_published(
    safety_standard, client, auditor, services
):
    response = await client.post("/v1/subjects", json=enterprise(31))
    sid = UUID(response.json()["subject_id"])

    def append(body: dict) -> int:
        command = record_command_adapter.validate_python(body)
        ack = services.files.append(sid, command, recorded_by="test-recorder")
        assert ack.created
        return ack.position

    append(certified("GB-2023-7", "2023-05-01", "2026-05-01"))  # expired by today (2026-11-20)
    current = append(certified("GB-2026-3", "2026-03-01", "2029-03-01", level="一级"))

    # recorded: the stream holds it and the aggregate folds it back
    subject = services.ledger.subject(sid)
    assert sorted(r["type"] for r in subject.records.values()) == [
        "SafetyStandardCertified",
        "SafetyStandardCertified",
    ]

    # projected and listed, with its family, summary and publication window
    page = await client.get(f"/v1/subjects/{sid}/records", params={"min_position": current})
    [shown] = page.json()["records"]
    assert (shown["type"], shown["family"], shown["summary"]) == (
        "SafetyStandardCertified",
        "safety_standard",
        "一级 · AQBZ-GB-2026-3",
    )
    assert shown["publication"] == {
        "state": "published",
        "from": "2026-03-01",
        "until": "2029-03-01",
    }
    assert shown["details"]["valid_until"] == "2029-03-01"
    every = await client.get(
        f"/v1/subjects/{sid}/records", params={"include": "all"}, headers=auditor
    )
    assert {r["source_ref"]: r["publication"] for r in every.json()["records"]} == {
        "GB-2026-3": {"state": "published", "from": "2026-03-01", "until": "2029-03-01"},
        "GB-2023-7": {"state": "expired", "from": "2023-05-01", "until": "2026-05-01"},
    }

    # counted in the status's published records: today, and on a past day from the history
    status = (await client.get(f"/v1/subjects/{sid}/status")).json()
    assert status["published_records"] == {"total": 1, "by_family": {"safety_standard": 1}}
    back_then = await client.get(f"/v1/subjects/{sid}/status", params={"valid_at": "2025-06-01"})
    assert back_then.json()["published_records"]["by_family"] == {"safety_standard": 1}
    before = await client.get(f"/v1/subjects/{sid}/status", params={"valid_at": "2023-04-30"})
    assert before.json()["published_records"]["total"] == 0

    # corrected through the generic correction, validated by its own command's fields
    corrected = append(
        {
            "type": "RecordCorrected",
            "decision_date": "2026-11-02",
            "authority_name": AUTHORITY_NAME,
            "authority_code": AUTHORITY_CODE,
            "source_ref": "GB-2026-3-更正",
            "target_record_id": shown["record_id"],
            "changes": {"valid_until": "2026-11-01"},
            "reason": "证书有效期录入有误",
        }
    )
    page = await client.get(
        f"/v1/subjects/{sid}/records",
        params={"include": "all", "min_position": corrected},
        headers=auditor,
    )
    [after] = [r for r in page.json()["records"] if r["source_ref"] == "GB-2026-3"]
    assert after["corrected"] is True
    assert after["publication"] == {"state": "expired", "from": "2026-03-01", "until": "2026-11-01"}
    status = (await client.get(f"/v1/subjects/{sid}/status")).json()
    assert status["published_records"] == {"total": 0, "by_family": {}}
