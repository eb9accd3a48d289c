"""What the console calls things in Chinese: each event type of a credit file, how one event
refers to a record, a record's publication state, a severity, and who recorded something. A
test holds the event types to the catalogue, so that a new record type cannot appear unnamed."""

from __future__ import annotations

from api.console import labels
from api.web import STEP_NAMES

# The record types of domain/events.py (their docstrings give the regulation's term), the
# registration of a subject, and the case steps the applicant's progress page already names.
EVENT_NAMES: dict[str, str] = {
    "SubjectRegistered": "主体登记",
    "LicenceGranted": "行政许可",
    "LicenceRevoked": "行政许可撤销",
    "PenaltyDecided": "行政处罚",
    "DishonestConductRecorded": "失信行为",
    "CommitmentMade": "信用承诺",
    "CommitmentFulfilled": "信用承诺履行",
    "CommitmentBreached": "信用承诺违背",
    "RatingIssued": "信用评价",
    "ListEntered": "列入名单",
    "ListExited": "移出名单",
    "InterviewHeld": "信用约谈",
    "CommendationGranted": "诚信典型",
    "JointMeasureApplied": "联合奖惩反馈",
    "AdministrativeCoercionApplied": "行政强制",
    "AdministrativeConfirmationMade": "行政确认",
    "AdministrativeAdjudicationMade": "行政裁决",
    "AdministrativeRewardGranted": "行政奖励",
    "AdministrativeInspectionConducted": "行政监督检查",
    "RecordCorrected": "记录更正",
    "RecordRevoked": "记录撤销",
    **{step: f"案件：{name}" for step, name in STEP_NAMES.items()},
}

# service.history.Effect: what the referring event did, and what the record it names underwent.
REFERS_TO: dict[str, str] = {
    "ends": "终止",
    "revokes": "撤销",
    "corrects": "更正",
    "rests_on": "依据",
    "case_step": "案件涉及",
}
REFERRED_BY: dict[str, str] = {
    "ends": "被终止",
    "revokes": "被撤销",
    "corrects": "被更正",
    "rests_on": "被作为依据",
    "case_step": "案件",
}

# domain.publication.publication_state, on the day the page is read.
# The words for publication states, severities, lists and subject kinds are the console's one
# table of labels (labels.py), shared with the clerk's check pages.
PUBLICATION_STATES = labels.PUBLICATION_STATES
SEVERITIES = labels.SEVERITIES
LISTS = labels.LISTS
SUBJECT_KINDS = labels.KINDS
ACCOUNT_PREFIX = "account:"

# The stored fields an auditor meets most, by the names the 双公示 standard and the regulations
# give them; any other field is shown by its name in the API.
FIELD_NAMES: dict[str, str] = {
    "kind": "主体类别",
    "code": "主体代码",
    "code_masked": "主体代码（遮蔽）",
    "name": "名称",
    "region_code": "行政区划代码",
    "sectors": "行业",
    "source_ref": "决定文书号",
    "severity": "失信程度",
    "procedure": "程序",
    "violation_type": "违法行为类型",
    "facts": "违法事实",
    "legal_basis": "依据",
    "penalty_categories": "处罚类别",
    "content": "内容",
    "fine_amount": "罚款金额（万元）",
    "confiscated_amount": "没收金额（万元）",
    "licence_action": "暂扣或吊销证照",
    "declared_publication_end": "公示截止期",
    "effective_until": "处罚有效期",
    "legal_representative": "法定代表人",
    "data_source_name": "数据来源单位",
    "data_source_code": "数据来源单位统一社会信用代码",
    "remarks": "备注",
    "licence_type": "许可类别",
    "document_name": "文书名称",
    "valid_from": "有效期自",
    "valid_until": "有效期至",
    "certificate_name": "许可证书名称",
    "licence_number": "许可编号",
    "list_type": "名单",
    "basis": "列入事由",
    "planned_end": "预计移出日期",
    "basis_record_id": "依据记录",
    "target_record_id": "所涉记录",
    "changes": "更正内容",
    "reason": "理由",
    "reasons": "理由",
    "case_id": "案件标识",
    "case_number": "案件编号",
    "query_code_hash": "查询码哈希",
    "by": "办理方",
    "applicant": "申请人",
    "corrections": "已纠正事项",
    "commitment_signed": "已签署信用承诺",
    "evidence": "材料",
    "grounds": "异议事由",
    "statement": "异议陈述",
    "outcome": "处理结果",
    "missing": "需补正材料",
    "scheme": "评价体系",
    "grade": "等级",
    "score": "得分",
}


def event_name(event_type: str) -> str:
    return EVENT_NAMES.get(event_type, event_type)


def field_name(name: str) -> str:
    return FIELD_NAMES.get(name, name)


def recorder_kind(principal: str) -> str:
    """Whether a `recorded_by` or access-log `client_id` names a person at the console or an
    API client (a system of the agency's)."""
    return "工作人员账号" if principal.startswith(ACCOUNT_PREFIX) else "接口客户端"
