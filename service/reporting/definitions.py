"""What each of the credit office's figures counts and which notice asks for it, in the words a
page and the monthly 台账's cover use (中文). The one place these texts live: the console's
figures page shows them under each section and the workbook's cover lists them, so the two
never tell a reader different things. docs/reports.md explains the same figures to developers.

A figure added later adds its entry here, under the key its page section and its workbook sheet
use. A policy value is named by its key in the policy version, never repeated here: the page
and the workbook show the value the version in force gives it."""

from __future__ import annotations

from dataclasses import dataclass

# The notices the figures come from, as their texts name themselves.
ANYANG_2021 = "《安阳市交通运输局信用体系建设2021年工作要点及台账》"
ZHENGZHOU_2019 = (
    "郑州市交通运输局《关于做好2019年郑州市交通运输行业社会信用体系建设工作的通知》"
    "（郑交〔2019〕140号）"
)
HEYUAN_2024 = "河源市交通运输局《河源市信用交通建设三年行动方案》（河交函〔2024〕338号）"


@dataclass(frozen=True)
class FigureDefinition:
    name: str
    definition: str
    source: str


TIMELINESS = "timeliness"
COMPLETENESS = "completeness"
FILL = "fill"
CASES = "cases"
LISTS = "lists"
JOINT_MEASURES = "joint_measures"
OVERLOAD = "overload"

FIGURES: dict[str, FigureDefinition] = {
    TIMELINESS: FigureDefinition(
        "双公示及时率",
        "按认定机关统计决定日期在当月的行政许可、行政处罚信息（计入的信息类别按决定之日适用的政策"
        "版本 reporting.timeliness.families）：作出决定的条数；自决定次日起在公示期限内首次记录"
        "（上报）的条数及所占比例（及时率，目标 100%）；迟报的条数，以及每条迟报信息的应报日期、"
        "实际记录日期和迟报工作日数。公示期限按决定之日适用的政策版本（deadlines.publication）"
        "计算，工作日按法定节假日和调休计算；在休息日记录的，按其后第一个工作日计。首次记录的时间"
        "不因更正而改变；更正决定日期的，计入更正后的月份；已撤销的信息仍计入（决定已作出，应当"
        "上报）。比例按统计期末日适用的政策版本（reporting.rates）取舍。",
        f"{ANYANG_2021}“行政许可、行政处罚‘双公示’信息自作出行政决定之日起7个工作日内向社会"
        f"公示。无瞒报、漏报、迟报现象，确保‘7天合格率’”；{HEYUAN_2024}“确保填报率、合格率、"
        "及时率达到100%”。按认定机关分列和迟报工作日数为本系统默认口径。",
    ),
    COMPLETENESS: FigureDefinition(
        "信用信息合格率",
        "按认定机关统计决定日期在当月的行政许可、行政处罚信息：记录条数；已填写（不为空）的指标项"
        "占国家数据标准该类信息指标项的比例达到政策版本规定比例（reporting.completeness.threshold，"
        "含本数）的合格记录条数及所占比例（合格率，目标 100%）；最常缺少的指标项；以及每条不合格"
        "记录已填写的比例和所缺的指标项（以标准字段名和中文名称列出），以便认定机关补全。每条记录"
        "按决定之日适用的政策版本衡量，更正后重新衡量；比例按统计期末日适用的政策版本"
        "（reporting.rates）取舍。",
        f"{ANYANG_2021}“共享信用记录数据内容完整（注：记录不为空的指标占60%以上为合格记录）”；"
        f"{HEYUAN_2024}“确保填报率、合格率、及时率达到100%”；“以上”包括本数（《民法典》"
        "第一千二百五十九条）。按认定机关分列和最常缺少的指标项为本系统默认口径。",
    ),
    FILL: FigureDefinition(
        "数据项填报率",
        "按认定机关统计决定日期在当月的行政许可、行政处罚信息：各条记录已填写（不为空）的指标项数"
        "之和，占国家数据标准为各条记录（按信息类别和主体类型）列出的指标项数之和的比例（填报率，"
        "目标 100%）。按指标项逐项累计，不是各条记录填写比例的平均数：填写 13 项（共 21 项）和"
        "21 项（共 21 项）的两条记录，填报率为 34÷42＝80.95%。指标项和每条记录的衡量与合格率相同"
        "（按决定之日适用的政策版本衡量，更正后重新衡量）；比例按统计期末日适用的政策版本"
        "（reporting.rates）取舍。",
        f"{HEYUAN_2024}“确保填报率、合格率、及时率达到100%”。该方案未界定填报率；本系统无从知晓"
        "未向其报送的决定，按数据质量评估常用的数据项填报率（已填写的指标项数÷应填写的指标项数）"
        "计算，为本系统口径。",
    ),
    CASES: FigureDefinition(
        "信用修复和异议案件办理时限",
        "按认定机关（谁认定、谁修复）统计：当月提交的案件数；当月办结的案件数（信用修复通过或"
        "不予修复，异议更正、撤销或维持）；其中在办理期限内办结的件数及按期办结率（目标 100%）；"
        "截至统计之日未办结且已超过办理期限的案件数；当月办结案件自提交至办结所用工作日数的中位数。"
        "办理期限即申请人查询进度时看到的期限，按案件提交之日适用的政策版本（deadlines）计算："
        "信用修复为自提交起的全案期限与受理后自材料齐全之日起的决定期限中先到者（工作日），异议为"
        "自提交起的日数。工作日按法定节假日和调休计算；退回补正期间不计超期。",
        f"{ANYANG_2021}“推动开展信用修复：及时办理……信用修复要求”；“杜绝无故拖延、超期审核”。"
        "按认定机关分列和用时中位数为本系统默认口径。",
    ),
    LISTS: FigureDefinition(
        "红名单、黑名单和重点关注名单",
        "守信激励名单（红名单）、严重失信主体名单（黑名单）、重点关注名单：月末最后一日在列的主体数"
        "（同时在黑名单上的主体不计入红名单），当月作出并生效的列入决定数，当月移出的列入决定数"
        "（决定移出、期满移出，或所依据的记录经信用修复而失效）；按地区（行政区划代码归并至市级）"
        "和行业分列，一个主体计入其登记的每个行业。只统计名单认定决定，不含按规则推定的重点关注。",
        f"{ANYANG_2021}“认定红黑名单：依法依规进行红黑名单认定，并及时推送至省厅信用信息系统和"
        f"市信用信息共享平台”；{ZHENGZHOU_2019}规范红黑名单认定、发布、修复、移除。"
        "按地区、行业分列为本系统默认口径。",
    ),
    JOINT_MEASURES: FigureDefinition(
        "联合奖惩成效清单",
        "当月实施的每一项联合激励或联合惩戒措施（以措施的执行日期计），载明被执行主体、执行措施、"
        "执行部门、执行时间、具体事项；已撤销的反馈记录不计入。",
        f"{ANYANG_2021}“公示联合奖惩案例：每月报送联合奖惩成效清单至省、市信用信息系统。反馈信息"
        "包括被执行主体、执行措施、执行部门、执行时间、具体事项等内容”；"
        f"{ZHENGZHOU_2019}第23项：反馈联合奖惩措施落实情况。",
    ),
    OVERLOAD: FigureDefinition(
        "严重违法超限超载运输失信当事人名单",
        "黑名单中因严重违法超限超载运输列入的决定：所依据的记录为超限超载类失信行为或处罚，或认定"
        "依据写明该名单（以列入之日适用的政策版本为准）；列出当月列入、当月移出和月末在列的当事人。",
        f"{ANYANG_2021}“报送失信当事人名单：报送四级联网系统严重违法失信超限超载运输车辆的相关"
        f"责任主体名单”，每月报送；{ZHENGZHOU_2019}第8项：继续做好超限超载严重失信行为上报和发布；"
        "交通运输部办公厅《关于界定严重违法失信超限超载运输行为和相关责任主体有关事项的通知》"
        "（2017年，据转载文本）。",
    ),
}
