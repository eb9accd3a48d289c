"""A subject with a history an auditor has something to look at, built through the JSON API as
agencies and an applicant would: a penalty repaired through a repair case, one corrected, one
revoked, and a serious one that a black-list entry rests on and that an objection disputes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.builders import enterprise, follow_up, list_entry, penalty

COMPANY = enterprise(901, name="郑州通达货运有限公司")


@dataclass(frozen=True)
class AuditedSubject:
    subject_id: str
    code: str
    repaired: str  # record ids
    corrected: str
    correction: str
    revoked: str
    revocation: str
    basis: str
    entry: str
    repair_case: str
    objection_case: str
    position: int  # the last write's


async def _recorded(http: httpx.AsyncClient, headers: dict[str, str], sid: str, body: dict) -> Any:
    response = await http.post(f"/v1/subjects/{sid}/events", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def a_subject_with_a_history(
    http: httpx.AsyncClient, recorder: dict[str, str]
) -> AuditedSubject:
    registered = await http.post("/v1/subjects", json=COMPANY, headers=recorder)
    assert registered.status_code == 201, registered.text
    sid = registered.json()["subject_id"]
    repaired = await _recorded(
        http, recorder, sid, penalty("郑交执罚〔2026〕0101号", decision_date="2026-06-01")
    )
    corrected = await _recorded(http, recorder, sid, penalty("郑交执罚〔2026〕0102号"))
    revoked = await _recorded(
        http,
        recorder,
        sid,
        penalty("郑交执罚〔2026〕0103号", severity="minor", decision_date="2026-06-01"),
    )
    basis = await _recorded(
        http,
        recorder,
        sid,
        penalty("郑交执罚〔2026〕0104号", severity="serious", decision_date="2026-07-01"),
    )
    entry = await _recorded(
        http,
        recorder,
        sid,
        {
            **list_entry("豫交黑〔2026〕0105号", decision_date="2026-07-10"),
            "basis_record_id": basis["record_id"],
        },
    )
    correction = await _recorded(
        http,
        recorder,
        sid,
        follow_up(
            "RecordCorrected",
            "郑交执更〔2026〕0106号",
            target_record_id=corrected["record_id"],
            changes={"fine_amount": "1.0"},
            reason="罚款金额笔误",
        ),
    )
    revocation = await _recorded(
        http,
        recorder,
        sid,
        follow_up(
            "RecordRevoked",
            "郑交执撤〔2026〕0107号",
            target_record_id=revoked["record_id"],
            reason="行政复议撤销",
        ),
    )
    after = {"min_position": revocation["position"]}
    filed = await http.post(
        "/v1/cases/repair",
        json={
            "subject_code": COMPANY["code"],
            "record_id": repaired["record_id"],
            "corrections": ["罚款已缴纳", "已完成整改"],
            "commitment_signed": True,
            "evidence": ["缴款凭证.pdf"],
            "applicant": COMPANY["name"],
        },
        params=after,
    )
    assert filed.status_code == 201, filed.text
    repair_case = filed.json()["case_number"]
    for action, body in (("accept", {}), ("approve", {"reasons": "已履行处罚决定并完成整改"})):
        step = await http.post(
            f"/v1/cases/{repair_case}:{action}", json=body, params=after, headers=recorder
        )
        assert step.status_code == 200, step.text
    objection = await http.post(
        "/v1/cases/objection",
        json={
            "subject_code": COMPANY["code"],
            "record_id": basis["record_id"],
            "grounds": "wrong_content",
            "statement": "超限比例认定有误",
            "applicant": COMPANY["name"],
        },
        params=after,
    )
    assert objection.status_code == 201, objection.text
    return AuditedSubject(
        subject_id=sid,
        code=COMPANY["code"],
        repaired=repaired["record_id"],
        corrected=corrected["record_id"],
        correction=correction["record_id"],
        revoked=revoked["record_id"],
        revocation=revocation["record_id"],
        basis=basis["record_id"],
        entry=entry["record_id"],
        repair_case=repair_case,
        objection_case=objection.json()["case_number"],
        position=objection.json()["position"],
    )
