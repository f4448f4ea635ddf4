"""Every fact a rule can name: the claim's own fields and the facts derived once per claim.

The table is the single source for the rule checker (unknown names, types, "did you mean"), the fact
builder (which keys to fill) and the documentation (`drgaudit rules facts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drgaudit.contract import CLAIM_FIELDS

# Value types of the rule language.
NUMBER, TEXT, DATE, BOOL, LIST = "number", "text", "date", "bool", "list"
# The type of `lists.<name>`: a named list of `rules/lists/`, usable with `in`, any_in() and count_in().
NAMED_LIST = "named list"

_CONTRACT_TYPES = {
    "id": TEXT,
    "text": TEXT,
    "region": TEXT,
    "dx": TEXT,
    "px": TEXT,
    "enum": TEXT,
    "int": NUMBER,
    "decimal": NUMBER,
    "date": DATE,
    "bool": BOOL,
    "list": LIST,
}


@dataclass(frozen=True)
class FactDef:
    """One fact: its dotted name in rules, type, whether it can be missing, and a Chinese label."""

    name: str
    type: str
    optional: bool
    label: str
    note: str = ""
    key: str = field(init=False)

    def __post_init__(self) -> None:
        # The flat key of the fact in the dicts given to durable-rules ("group.avg_cost" -> "group__avg_cost").
        object.__setattr__(self, "key", self.name.replace(".", "__"))


# Optional amounts and hours that are taken as 0 when a claim leaves them out, so that arithmetic on
# them never meets a gap; the other optional numbers (age in days, birth weight) stay missing.
ZERO_WHEN_MISSING: tuple[str, ...] = tuple(
    f.name for f in CLAIM_FIELDS if not f.required and f.type == "decimal"
)


def _claim_facts() -> list[FactDef]:
    facts = []
    for f in CLAIM_FIELDS:
        kind = _CONTRACT_TYPES[f.type]
        optional = not f.required and kind != LIST and f.name not in ZERO_WHEN_MISSING
        facts.append(FactDef(f.name, kind, optional, f.label, "结算清单字段"))
    return facts


_DERIVED: list[FactDef] = [
    FactDef("los_days", NUMBER, False, "住院天数", "出院日期减入院日期，当日出入院计1天"),
    FactDef("is_cross_region", BOOL, False, "是否省内异地就医", "参保地与就医地不同、同省（编码前两位相同）"),
    FactDef(
        "is_cross_province", BOOL, False, "是否跨省异地就医", "参保地与就医地不在同一省（编码前两位不同）"
    ),
    FactDef(
        "region_relation",
        TEXT,
        False,
        "参保地与就医地关系",
        "local 本地、cross_region 省内异地、cross_province 跨省异地",
    ),
    FactDef("dx_category", TEXT, False, "主要诊断类目", "主要诊断编码前3位，如 I21"),
    FactDef("adrg", TEXT, True, "核心病组", "病组编码前3位（DRG/DIP 入组时）"),
    FactDef(
        "group_severity",
        TEXT,
        True,
        "病组严重程度位",
        "病组编码末位：1伴严重并发症，3伴一般并发症，5不伴，9不区分",
    ),
    FactDef("is_ungroupable", BOOL, False, "是否未入组/歧义组", "病组为 0000、QY 或 *QY"),
    FactDef("secondary_dx_count", NUMBER, False, "其他诊断个数"),
    FactDef("procedure_count", NUMBER, False, "手术操作个数"),
    FactDef("mcc_codes", LIST, False, "成立的严重并发症/合并症(MCC)", "按编码表与主要诊断排除表判定"),
    FactDef("cc_codes", LIST, False, "成立的一般并发症/合并症(CC)", "按编码表与主要诊断排除表判定"),
    FactDef("mcc_count", NUMBER, False, "成立的MCC个数"),
    FactDef("cc_count", NUMBER, False, "成立的CC个数"),
    FactDef("excluded_cc_codes", LIST, False, "因主要诊断排除而不成立的CC/MCC"),
    FactDef("unknown_codes", LIST, False, "编码表中不存在的诊断/手术编码"),
    FactDef("unknown_code_count", NUMBER, False, "编码表中不存在的编码个数"),
    FactDef("fee_total", NUMBER, False, "分项费用合计"),
    FactDef(
        "case_cost", NUMBER, False, "病例费用（含院外购药）", "医疗费总额 + 院外购药；费用倍率与支付测算用它"
    ),
    FactDef("self_share", NUMBER, True, "自费及院外购药占比", "(个人自费+院外购药)/医疗费总额"),
    FactDef("lab_exam_share", NUMBER, True, "检验检查费占比", "(化验费+检查费)/医疗费总额"),
    FactDef("drug_share", NUMBER, True, "药品费占比"),
    FactDef("material_share", NUMBER, True, "耗材费占比"),
    FactDef("cost_ratio", NUMBER, True, "费用倍率", "(医疗费总额 + 院外购药)/病组次均费用"),
    FactDef("los_ratio", NUMBER, True, "住院日倍率", "住院天数/病组平均住院日"),
    FactDef(
        "case_payment", NUMBER, True, "按就医地规则的病组支付标准", "权重×费率×等级系数（异地再乘调节系数）"
    ),
    FactDef(
        "payment_estimate",
        NUMBER,
        True,
        "按就医地规则测算的支付金额",
        "含高低倍率、按床日、未入组等特殊支付，见 regions/national.yaml",
    ),
    FactDef(
        "payment_kind",
        TEXT,
        False,
        "支付测算方式",
        "standard 正常、high_ratio 高倍率、low_ratio 低倍率、extreme 极端费用、per_diem 按床日、ungroupable 未入组/歧义组、fee_for_service 按项目、unknown 无法测算",
    ),
    FactDef(
        "high_ratio_limit",
        NUMBER,
        True,
        "就医地高倍率判定倍数",
        "DRG 取 drg_high_ratio（可按病组权重分档），DIP 取 dip_high_ratio",
    ),
    FactDef(
        "high_ratio_tier",
        TEXT,
        True,
        "高倍率判定所用的权重分档",
        "就医地按病组权重分档设定 DRG 高倍率时，本病例所在的档，如 1<权重≤2：2倍",
    ),
    FactDef(
        "is_basic_disease_group",
        BOOL,
        False,
        "是否基层病种",
        "病组在就医地 basic_disease_groups 中：各级医院同价，不乘医院等级系数",
    ),
    FactDef(
        "payment_placeholder",
        BOOL,
        False,
        "支付测算是否使用全国默认占位费率",
        "就医地没有参数文件、规则包允许按全国默认值测算时为真",
    ),
    FactDef(
        "low_ratio_limit", NUMBER, True, "就医地低倍率判定倍数", "DRG 取 drg_low_ratio，DIP 取 dip_low_ratio"
    ),
    FactDef(
        "extreme_ratio_limit",
        NUMBER,
        True,
        "就医地极端费用判定倍数",
        "DRG 取 drg_extreme_ratio，DIP 取 dip_extreme_ratio",
    ),
    FactDef(
        "group_type",
        TEXT,
        True,
        "病组类型",
        "DRG 核心病组第2位：A–J 外科手术 surgical，K–Q 非手术室操作 procedure，R–Z 内科 medical",
    ),
    FactDef("days_since_designation", NUMBER, True, "入院时距定点日期天数"),
    FactDef("hospital.known", BOOL, False, "医院在机构表中"),
    FactDef("hospital.name", TEXT, True, "医院名称"),
    FactDef("hospital.region", TEXT, True, "医院所在统筹区"),
    FactDef("hospital.level", NUMBER, True, "医院等级", "1、2、3"),
    FactDef("hospital.designated_on", DATE, True, "定点日期"),
    FactDef("hospital.regional_center", BOOL, False, "是否区域医疗中心"),
    FactDef(
        "hospital.cross_drg_cases", NUMBER, False, "本批次该院异地 DRG 分级病组病例数", "病组末位为1、3或5"
    ),
    FactDef(
        "hospital.cross_cc_mcc_share",
        NUMBER,
        True,
        "本批次该院异地病例中伴并发症病组占比",
        "病组末位为1或3的病例数/末位为1、3、5的异地DRG病例数",
    ),
    FactDef(
        "hospital.cross_cc_mcc_share_rank",
        NUMBER,
        True,
        "该占比在同级医院中的百分位",
        "0–100：同级医院中占比不高于本院的医院所占百分比",
    ),
    FactDef("hospital.peer_cc_mcc_share_median", NUMBER, True, "同级医院该占比的中位数"),
    FactDef(
        "hospital.cc_mcc_share_excess", NUMBER, True, "该占比高出同级中位数的幅度", "本院占比 − 同级中位数"
    ),
    FactDef("group.known", BOOL, False, "病组在就医地病组表中"),
    FactDef("group.name", TEXT, True, "病组名称"),
    FactDef("group.weight", NUMBER, True, "病组权重/分值"),
    FactDef("group.avg_cost", NUMBER, True, "病组次均费用"),
    FactDef("group.avg_los", NUMBER, True, "病组平均住院日"),
    FactDef("group.siblings", LIST, False, "同一核心病组的病组"),
    FactDef("group.base_weight", NUMBER, True, "同核心病组最低权重", "不伴并发症时应入病组的权重"),
    FactDef("prev_claim_id", TEXT, True, "上次住院结算号", "同一参保人此前最近一次出院（任一医院）"),
    FactDef("prev_hospital_id", TEXT, True, "上次住院医院"),
    FactDef("prev_dx_category", TEXT, True, "上次住院主要诊断类目"),
    FactDef("days_since_prev_discharge", NUMBER, True, "距上次出院天数", "本次入院日期减上次出院日期"),
    FactDef("prev_same_hospital_claim_id", TEXT, True, "同院上次住院结算号"),
    FactDef("days_since_prev_discharge_same_hospital", NUMBER, True, "距同院上次出院天数"),
    FactDef("admissions_90d", NUMBER, False, "近90天住院次数", "入院日期在本次入院前90天内（含本次）"),
    FactDef("admissions_365d", NUMBER, False, "近365天住院次数", "入院日期在本次入院前365天内（含本次）"),
]

FACTS: dict[str, FactDef] = {f.name: f for f in _claim_facts() + _DERIVED}

# Namespaces of dotted names that are not facts.
PARAMS, REGION, LISTS, EARLIER = "params", "region", "lists", "earlier"
NAMESPACES = (PARAMS, REGION, LISTS, EARLIER, "hospital", "group")

# Keys every fact dict carries for the engine's own bookkeeping.
INTERNAL_KEYS = ("kind", "claim_id", "seq", "target", "_t")
