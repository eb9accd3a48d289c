"""Each business rule in the words a person reads (Simplified Chinese): what the refusal under it
means, said once here for every place that tells a person (an API problem's `detail` for a
client asking for Chinese, an import report's reasons). A refusal's English `detail` may also
name the values at fault; these texts say what must hold."""

from __future__ import annotations

from domain import changes, codes, day_close, report_periods
from domain import subject as rules
from domain.errors import Rule

RULE_TEXTS_ZH: dict[Rule, str] = {
    codes.SUBJECT_KIND_KNOWN: "主体类别须为企业（enterprise）、个人（individual）、车辆（vehicle）"
    "或公共机构（public_body）。",
    rules.SUBJECT_NAMED: "主体名称不能为空。",
    rules.APPLICANT_NAMES_DECISION: "未找到与该主体代码和决定书文号相符的记录：请核对送达给"
    "本主体的行政决定书上的文号。",
    codes.USCC_VALID: "统一社会信用代码无效：须为 18 位，由 GB 32100 规定的字符组成，"
    "行政区划码部分为数字，校验码正确。",
    codes.RESIDENT_ID_VALID: "居民身份证号码无效：须为 18 位（GB 11643），出生日期真实且不晚于"
    "今天，校验码（数字或 X）正确。",
    codes.PLATE_NUMBER_VALID: "号牌号码不符合机动车号牌的格式（GA 36）。",
    codes.REGION_CODE_VALID: "行政区划代码须为 6 位数字，前两位为省级行政区代码（GB/T 2260）。",
    rules.IDEMPOTENCY_KEY_ONE_REQUEST: "此 Idempotency-Key 已用于另一个内容不同的请求：重发请求"
    "须与原请求完全相同。",
    rules.ONE_RECORD_PER_DECISION: "同一机关、同一文号的同类记录已登记，且内容不同；如需修改，"
    "请登记更正记录。",
    rules.RECORD_FIELDS_KNOWN: "记录含有该记录类型没有的字段。",
    rules.RECORD_FIELDS_COMPLETE: "记录缺少该记录类型的必填字段。",
    rules.DATES_ARE_DATES: "决定日期、有效期自、有效期至须为日期（YYYY-MM-DD），更正时亦然。",
    rules.DECISION_DATE_NOT_IN_FUTURE: "决定日期不能晚于今天。",
    rules.SEVERITY_KNOWN: "严重程度须为轻微（minor）、一般（general）或严重（serious）。",
    rules.LIST_TYPE_KNOWN: "名单类型须为红名单（red）、黑名单（black）或重点关注名单（watch）。",
    rules.RATING_SCHEME_KNOWN: "该评价体系在评价决定日期施行的信用政策中没有。",
    rules.RATING_GRADE_OF_SCHEME: "该等级不是此评价体系在该政策版本下的等级。",
    rules.RATING_SCORE_IN_GRADE_BAND: "评价分数与等级不符：分数须在该等级于决定日期施行的分数"
    "区间内。",
    rules.VALIDITY_ENDS_AFTER_START: "有效期至须晚于有效期自。",
    rules.RECORD_OF_SUBJECT: "所指的记录不在该主体的信用档案中。",
    rules.RECORD_SECTOR_OF_SUBJECT: "记录所属行业须是该主体所在的行业之一。",
    rules.REFERENCED_TYPE: "所指记录的类型与该字段要求的不符（如移出名单须指向列入名单记录，"
    "信用修复须指向失信行为或行政处罚记录）。",
    rules.OWNER_ACTS: "谁认定、谁修复：只有作出该记录的机关才能更正、撤销、结束该记录，或办理"
    "与之相关的案件。",
    rules.CLOSED_ONCE: "该记录已经结束（已履行或违约、已移出、已撤销），不能再次结束。",
    rules.ONE_OPEN_ENTRY_PER_LIST: "该主体已在此名单中，同一名单同时只能列入一次。",
    rules.BASIS_STANDS: "作为依据的记录已修复或已撤销，不能再作为列入名单的依据。",
    rules.RED_LIST_CRITERIA_MET: "不符合列入红名单（守信激励）的条件：在决定日期，该主体不得在"
    "黑名单上，不得有已公示的严重失信记录或近期失信行为，并须达到所持评价的最高等级。",
    rules.REVOCATION_FINAL: "已撤销的记录不能再更正或撤销。",
    rules.CORRECTIONS_NOT_CORRECTED: "更正或撤销记录本身不能再被更正或撤销。",
    rules.CORRECTION_CHANGES_SOMETHING: "更正须至少改变一个字段。",
    rules.CORRECTION_CHANGES_CHANGEABLE: "更正只能改变记录的内容，不能改变标识记录的机关代码、"
    "文号和编号。",
    rules.CASE_OF_SUBJECT: "所指的案件不属于该主体。",
    rules.CASE_KNOWN_BY_NUMBER: "未找到该案件，请核对案件编号和查询码。",
    rules.CASE_STEP_IN_ORDER: "按该案件的类型和当前状态，现在不能办理这一步骤。",
    rules.ONE_OPEN_CASE_PER_RECORD: "该记录已有一件正在办理的信用修复或异议案件。",
    rules.REPAIRED_ONCE: "该记录已经修复，不能再次修复。",
    rules.REPAIR_OF_PUBLISHED: "只有正在公示且未撤销的记录才能申请信用修复。",
    rules.REPAIR_AFTER_MINIMUM_PERIOD: "最短公示期届满后方可申请信用修复。",
    rules.REPAIR_STATES_CORRECTIONS: "申请信用修复须说明已纠正的情况（如已缴纳罚款、已完成整改、"
    "已参加培训）。",
    rules.REPAIR_COMMITMENT_SIGNED: "申请信用修复须签署信用修复承诺书。",
    rules.OBJECTION_TO_STANDING_RECORD: "只能对未撤销的原始记录提出异议，不能对更正、撤销记录或"
    "已撤销的记录提出异议。",
    rules.OBJECTION_GROUNDS_KNOWN: "异议理由须为内容有误（wrong_content）、公示期限有误"
    "（wrong_period）或修复处理有误（wrong_repair）。",
    rules.OBJECTION_STATES_WHAT_IS_WRONG: "提出异议须说明记录哪里有误。",
    rules.OBJECTION_OUTCOME_KNOWN: "异议处理结果须为更正（corrected）、撤销（revoked）或维持"
    "（upheld）。",
    report_periods.REPORT_PERIOD_VALID: "报告期须为一个月（写作 YYYY-MM，如 2026-11），或起止日期"
    f"（起始日不晚于截止日，至多 {report_periods.MAX_DAYS} 天）。",
    changes.ADDRESSED_TO_OWN_AUTHORITIES: "只有获授权为执法机构登记信息的客户端才能订阅发给"
    "本机构的信用预警：本客户端未被授予任何执法机构代码。",
    day_close.DAY_NOT_IN_FUTURE: "日结只能针对已经开始的日期（按服务所在时区），不能预先日结。",
}


def rule_text_zh(rule: Rule | None) -> str | None:
    """The rule's Chinese text, if it has one."""
    return RULE_TEXTS_ZH.get(rule) if rule is not None else None
