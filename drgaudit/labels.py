"""The one vocabulary of Chinese labels: every field, fact and coded value a person reads.

Reports, `drgaudit explain`, rule-test failures and the web pages name things through this module,
never by field name. Keys are the names the code uses:

- claim fields by their DATA-CONTRACT name (`total_cost`), hospital and group-table fields and the
  facts about them with a prefix (`hospital.level`, `group.avg_cost`), derived facts by their rule
  name (`los_days`, `payment_estimate`), hit and review fields (`rule_id`, `case.status`), region
  settings as rules name them (`region.drg_rate`);
- coded values by the field they belong to: `value_label("discharge_mode", "5")` → 死亡.

`label(name)` also understands the names rules write: `earlier.admit_date` (the earlier claim of a
pair rule: 前次住院·入院日期), `params.window_days` (a rule parameter: pass the rule's parameter
descriptions as `extra`), and the flat keys the engine uses (`group__avg_cost`).

A test checks that every contract field and every fact the rules can name has a label here; a new
field or fact gets its label in this file (and nowhere else).
"""

from __future__ import annotations

from collections.abc import Mapping

# -- fields of the interchange files (DATA-CONTRACT) -----------------------------------------------------
CLAIM_LABELS: dict[str, str] = {
    "claim_id": "结算清单流水号",
    "patient_id": "人员编号",
    "gender": "性别",
    "age": "年龄",
    "age_days": "年龄（天）",
    "newborn_weight_g": "新生儿出生体重（克）",
    "insured_region": "参保地",
    "treatment_region": "就医地",
    "insurance_type": "险种",
    "hospital_id": "定点医疗机构编码",
    "dept_code": "出院科别",
    "admit_date": "入院日期",
    "discharge_date": "出院日期",
    "admission_route": "入院途径",
    "discharge_mode": "离院方式",
    "readmit_plan_31d": "出院31天内再住院计划",
    "principal_dx": "主要诊断",
    "secondary_dx": "其他诊断",
    "procedures": "手术及操作",
    "icu_hours": "重症监护时长（小时）",
    "ventilator_hours": "有创呼吸机使用时长（小时）",
    "payment_scheme": "支付方式",
    "group_code": "病组编码",
    "total_cost": "医疗费总额",
    "fund_paid": "统筹基金支付",
    "self_pay": "个人自付",
    "self_expense": "个人自费",
    "outside_purchase": "院外购药",
    "fee_drug": "药品费",
    "fee_material": "耗材费",
    "fee_lab": "化验费",
    "fee_exam": "检查费",
    "fee_treatment": "治疗费",
    "fee_surgery": "手术费",
    "fee_nursing": "护理费",
    "fee_bed": "床位费",
    "fee_other": "其他费",
}
HOSPITAL_LABELS: dict[str, str] = {
    "hospital.hospital_id": "定点医疗机构编码",
    "hospital.name": "机构名称",
    "hospital.region": "所在统筹区",
    "hospital.level": "医院等级",
    "hospital.designated_on": "定点日期",
    "hospital.regional_center": "区域医疗中心",
    "hospital.coaching_until": "辅导期延长至",
}
GROUP_LABELS: dict[str, str] = {
    "group.region": "发布统筹区",
    "group.scheme": "付费方式",
    "group.group_code": "病组编码",
    "group.name": "病组名称",
    "group.weight": "病组权重/分值",
    "group.avg_cost": "病组次均费用",
    "group.avg_los": "病组平均住院日",
}


def input_labels(kind: str) -> dict[str, str]:
    """The Chinese label of each field of an input file of `kind` (claims, hospitals, groups), by field."""
    if kind == "claims":
        return dict(CLAIM_LABELS)
    prefix, labels = {"hospitals": ("hospital.", HOSPITAL_LABELS), "groups": ("group.", GROUP_LABELS)}[kind]
    return {name.removeprefix(prefix): text for name, text in labels.items()}


# -- facts derived once per claim (engine/facts.py; the rule language's names) -----------------------
FACT_LABELS: dict[str, str] = {
    "los_days": "住院天数",
    "is_cross_region": "是否省内异地就医",
    "is_cross_province": "是否跨省异地就医",
    "region_relation": "参保地与就医地关系",
    "case_cost": "病例费用（含院外购药）",
    "high_ratio_tier": "高倍率判定所用的权重分档",
    "is_basic_disease_group": "是否基层病种",
    "payment_placeholder": "支付测算是否使用全国默认占位费率",
    "dx_category": "主要诊断类目",
    "adrg": "核心病组",
    "group_severity": "病组严重程度位",
    "is_ungroupable": "是否未入组/歧义组",
    "secondary_dx_count": "其他诊断个数",
    "procedure_count": "手术操作个数",
    "mcc_codes": "成立的严重并发症/合并症(MCC)",
    "cc_codes": "成立的一般并发症/合并症(CC)",
    "mcc_count": "成立的MCC个数",
    "cc_count": "成立的CC个数",
    "excluded_cc_codes": "因主要诊断排除而不成立的CC/MCC",
    "unknown_codes": "编码表中不存在的诊断/手术编码",
    "unknown_code_count": "编码表中不存在的编码个数",
    "fee_total": "分项费用合计",
    "self_share": "自费及院外购药占比",
    "lab_exam_share": "检验检查费占比",
    "drug_share": "药品费占比",
    "material_share": "耗材费占比",
    "cost_ratio": "费用倍率",
    "los_ratio": "住院日倍率",
    "case_payment": "按就医地规则的病组支付标准",
    "payment_estimate": "按就医地规则测算的支付金额",
    "payment_kind": "支付测算方式",
    "high_ratio_limit": "就医地高倍率判定倍数",
    "low_ratio_limit": "就医地低倍率判定倍数",
    "extreme_ratio_limit": "就医地极端费用判定倍数",
    "group_type": "病组类型",
    "days_since_designation": "入院时距定点日期天数",
    "hospital.known": "医院在机构表中",
    "hospital.cross_drg_cases": "本批次该院异地 DRG 分级病组病例数",
    "hospital.cross_cc_mcc_share": "本批次该院异地病例中伴并发症病组占比",
    "hospital.cross_cc_mcc_share_rank": "该占比在同级医院中的百分位",
    "hospital.peer_cc_mcc_share_median": "同级医院该占比的中位数",
    "hospital.cc_mcc_share_excess": "该占比高出同级中位数的幅度",
    "group.known": "病组在就医地病组表中",
    "group.siblings": "同一核心病组的病组",
    "group.base_weight": "同核心病组最低权重",
    "group.cc_weight": "同核心病组伴并发症病组权重",
    "prev_claim_id": "上次住院结算号",
    "prev_hospital_id": "上次住院医院",
    "prev_dx_category": "上次住院主要诊断类目",
    "days_since_prev_discharge": "距上次出院天数",
    "prev_same_hospital_claim_id": "同院上次住院结算号",
    "days_since_prev_discharge_same_hospital": "距同院上次出院天数",
    "admissions_90d": "近90天住院次数",
    "admissions_365d": "近365天住院次数",
}
# What a derived fact means, where its label alone does not say it (`drgaudit rules facts`).
FACT_NOTES: dict[str, str] = {
    "los_days": "出院日期减入院日期，当日出入院计1天",
    "is_cross_region": "参保地与就医地不同、同省（编码前两位相同）",
    "is_cross_province": "参保地与就医地不在同一省（编码前两位不同）",
    "region_relation": "local 本地、cross_region 省内异地、cross_province 跨省异地",
    "case_cost": "医疗费总额 + 院外购药；费用倍率与支付测算用它",
    "high_ratio_tier": "就医地按病组权重分档设定 DRG 高倍率时，本病例所在的档，如 1<权重≤2：2倍",
    "is_basic_disease_group": "病组在就医地 basic_disease_groups 中：各级医院同价，不乘医院等级系数",
    "payment_placeholder": "就医地没有参数文件、规则包允许按全国默认值测算时为真",
    "dx_category": "主要诊断编码前3位，如 I21",
    "adrg": "病组编码前3位（DRG/DIP 入组时）",
    "group_severity": "病组编码末位：1伴严重并发症，3伴一般并发症，5不伴，9不区分",
    "is_ungroupable": "病组为 0000、QY 或 *QY",
    "mcc_codes": "按编码表与主要诊断排除表判定",
    "cc_codes": "按编码表与主要诊断排除表判定",
    "self_share": "(个人自费+院外购药)/医疗费总额",
    "lab_exam_share": "(化验费+检查费)/医疗费总额",
    "cost_ratio": "(医疗费总额 + 院外购药)/病组次均费用",
    "los_ratio": "住院天数/病组平均住院日",
    "case_payment": "权重×费率×等级系数（异地再乘调节系数）",
    "payment_estimate": "含高低倍率、按床日、未入组等特殊支付，见 regions/national.yaml",
    "payment_kind": "standard 正常、high_ratio 高倍率、low_ratio 低倍率、extreme 极端费用、per_diem 按床日、"
    "ungroupable 未入组/歧义组、fee_for_service 按项目、unknown 无法测算",
    "high_ratio_limit": "DRG 取 drg_high_ratio（可按病组权重分档），DIP 取 dip_high_ratio",
    "low_ratio_limit": "DRG 取 drg_low_ratio，DIP 取 dip_low_ratio",
    "extreme_ratio_limit": "DRG 取 drg_extreme_ratio，DIP 取 dip_extreme_ratio",
    "group_type": "DRG 核心病组第2位：A–J 外科手术 surgical，K–Q 非手术室操作 procedure，R–Z 内科 medical",
    "hospital.level": "1、2、3",
    "hospital.cross_drg_cases": "病组末位为1、3或5",
    "hospital.cross_cc_mcc_share": "病组末位为1或3的病例数/末位为1、3、5的异地DRG病例数",
    "hospital.cross_cc_mcc_share_rank": "0–100：同级医院中占比不高于本院的医院所占百分比",
    "hospital.cc_mcc_share_excess": "本院占比 − 同级中位数",
    "group.base_weight": "不伴并发症时应入病组的权重",
    "group.cc_weight": "只有成立的一般并发症（CC）时应入病组的权重：本核心病组末位为3的病组，没有时为最低权重",
    "prev_claim_id": "同一参保人此前最近一次出院（任一医院）",
    "days_since_prev_discharge": "本次入院日期减上次出院日期",
    "admissions_90d": "入院日期在本次入院前90天内（含本次）",
    "admissions_365d": "入院日期在本次入院前365天内（含本次）",
}

# -- screening output, review queue, meetings, investigation requests ---------------------------------
RECORD_LABELS: dict[str, str] = {
    "rule_id": "规则编号",
    "rule_title": "规则名称",
    "rule_version": "规则版本",
    "family": "违规类型",
    "severity": "严重程度",
    "action": "处理方式",
    "amount_at_risk": "涉及金额（元）",
    "message": "说明",
    "evidence": "依据",
    "thresholds": "阈值",
    "related_claims": "相关结算清单",
    "codes_source": "编码表",
    "batch.id": "批次号",
    "batch.kind": "导入类型",
    "batch.file_name": "文件",
    "batch.imported_at": "导入时间",
    "batch.rows_ok": "导入行数",
    "batch.rows_rejected": "拒收行数",
    "case.id": "案件号",
    "case.status": "状态",
    "case.severity": "最高严重程度",
    "case.amount_at_risk": "涉及金额（元）",
    "case.priority": "优先级",
    "case.assignee": "承办人",
    "case.due_date": "办结期限",
    "case.period": "出院月份",
    "case.version": "版本",
    "case.reopen_reason": "重新审核原因",
    "decision.kind": "审议结论",
    "decision.amount": "金额（元）",
    "decision.reason": "理由",
    "decision.round": "审议轮次",
    "decision.decided_by": "决定人",
    "decision.quota_override": "超出额度的理由",
    "appeal.reason": "申诉理由",
    "reply.text": "医院回复",
    "meeting.id": "会议号",
    "meeting.title": "会议名称",
    "meeting.held_on": "会议日期",
    "meeting.location": "会议地点",
    "meeting.capacity": "可审议病例数",
    "meeting.status": "状态",
    "assist.question": "协查事项",
    "assist.answer": "协查结果说明",
    "assist.result": "协查结论",
    "assist.due_date": "答复期限",
}

# -- region settings (rules/regions/*.yaml `settings:`; rules name them region.<key>) ------------------
SETTING_LABELS: dict[str, str] = {
    "region.drg_rate": "DRG 费率（元/权重）",
    "region.dip_point_value": "DIP 点值（元/分）",
    "region.level_coefficients": "医院等级系数",
    "region.cross_region_coefficient": "异地就医调节系数",
    "region.lookback_days": "既往住院回溯天数",
    "region.indicator_peer_min_cases": "参与同级比较的最少异地DRG病例数",
    "region.indicator_min_peers": "计算百分位的最少同级医院数",
    "region.drg_high_ratio": "DRG 高倍率判定倍数",
    "region.drg_low_ratio": "DRG 低倍率判定倍数",
    "region.drg_extreme_ratio": "DRG 极端费用判定倍数",
    "region.drg_high_excess_share": "DRG 高倍率超出部分支付比例",
    "region.drg_low_payment_share": "DRG 低倍率按项目支付比例",
    "region.dip_high_ratio": "DIP 费用超高判定倍数",
    "region.dip_low_ratio": "DIP 费用超低判定倍数",
    "region.dip_extreme_ratio": "DIP 极端费用判定倍数",
    "region.per_diem_rate": "床日付费标准（元/床日）",
    "region.per_diem_rates": "分科室床日付费标准",
    "region.ungroupable_payment_share": "未入组病例按项目支付比例",
    "region.review_case_actions": "生成审核案件的处理方式",
    "region.review_severity_weights": "严重程度权重",
    "region.review_due_days": "案件办结期限（天）",
    "region.special_review_quota_drg": "DRG 特例单议病例数上限比例",
    "region.special_review_quota_dip": "DIP 特例单议病例数上限比例",
    "region.special_review_quota_period": "特例单议比例的计算周期",
    "region.basic_disease_groups": "基层病种",
    "region.cross_province_payment": "跨省异地病例测算方式",
    "region.cross_province_coefficient": "跨省异地病例调节系数",
    "region.pack_promotion_approvers": "规则包上线须确认人数",
    "region.finding_actions": "形成医院疑点的处理方式",
    "region.finding_reply_days": "医院答复疑点期限（天）",
    "region.rule_author_decisions": "规则包登记人、上线人复审须经",
}

# -- the inputs of the review service's forms and URLs (a page that refuses one names it by this) ---------
FORM_LABELS: dict[str, str] = {
    "account": "账户", "amount": "金额（元）", "answer": "协查结果说明", "assignee": "承办人",
    "attendee": "参会人员", "body": "意见或回复内容", "capacity": "可审议病例数", "cases": "案件",
    "claim_id": "结算清单流水号", "current": "当前密码", "decision": "答复", "display_name": "姓名",
    "due": "期限", "files": "附件", "fill": "按优先级排满", "held_on": "会议日期", "item": "议程序号",
    "item_amount": "支付项目金额（元）", "item_name": "支付项目", "kind": "审议结论", "location": "会议地点",
    "merge_with": "合并的结算清单", "new": "新密码", "next": "登录后前往的页面", "note": "会议纪要说明",
    "organisation": "单位", "outcome": "复核结论", "override": "超出额度的理由", "password": "密码",
    "question": "协查事项", "quota_override": "超出额度的理由", "reason": "理由", "region": "统筹区",
    "repeat": "再次输入新密码", "result": "协查结论", "revoke": "撤销", "role": "角色", "scope": "范围",
    "side": "本方角色", "status": "状态", "suggestion": "意见", "title": "会议名称", "username": "用户名",
    "version": "页面所示版本", "table": "导入的数据", "upload": "数据文件", "group_version": "病组表版本",
    "job": "筛查任务", "effective_from": "生效日期", "stage": "上线方式", "batch": "批次",
}  # fmt: skip

LABELS: dict[str, str] = {
    **CLAIM_LABELS,
    **HOSPITAL_LABELS,
    **GROUP_LABELS,
    **FACT_LABELS,
    **RECORD_LABELS,
    **SETTING_LABELS,
}

# -- coded values ----------------------------------------------------------------------------------------
VALUE_LABELS: dict[str, dict[str, str]] = {
    "gender": {"1": "男", "2": "女"},
    "insurance_type": {"employee": "职工医保", "resident": "城乡居民医保"},
    "admission_route": {"1": "急诊", "2": "门诊", "3": "其他医疗机构转入", "9": "其他"},
    "discharge_mode": {
        "1": "医嘱离院",
        "2": "医嘱转院",
        "3": "转社区/乡镇卫生院",
        "4": "非医嘱离院",
        "5": "死亡",
        "9": "其他",
    },
    "readmit_plan_31d": {"1": "无", "2": "有"},
    "payment_scheme": {"DRG": "DRG", "DIP": "DIP", "PER_DIEM": "按床日", "FFS": "按项目"},
    "hospital.level": {"1": "一级", "2": "二级", "3": "三级"},
    "payment_kind": {
        "standard": "按病组标准",
        "high_ratio": "高倍率",
        "low_ratio": "低倍率",
        "extreme": "极端费用",
        "per_diem": "按床日",
        "ungroupable": "未入组",
        "fee_for_service": "按项目",
        "unknown": "无法测算",
    },
    "group_type": {"surgical": "外科手术", "procedure": "非手术室操作", "medical": "内科"},
    "group_severity": {"1": "伴严重并发症", "3": "伴一般并发症", "5": "不伴并发症", "9": "不区分"},
    "region_relation": {"local": "本地", "cross_region": "省内异地", "cross_province": "跨省异地"},
    "family": {
        "split_hospitalization": "分解住院",
        "upcoding": "高编高套",
        "outlier_review": "高低倍率病例",
        "cost_shifting": "转嫁费用",
        "low_standard_admission": "低标入院",
        "frequent_admission": "高频住院",
        "long_stay": "长期住院",
        "coaching_period": "辅导期内异地结算",
        "data_quality": "数据质量",
    },
    "action": {"note": "提示", "hold": "暂缓支付", "deduct": "扣减", "special_review": "特例单议"},
    "severity": {"info": "提示", "low": "低", "medium": "中", "high": "高", "critical": "严重"},
    "scope": {
        "cross_region": "省内异地",
        "local": "本地",
        "all": "全部",
        "cross_province": "跨省异地",
        "nonlocal": "异地（省内及跨省）",
    },
    "status": {"draft": "草稿", "active": "生效", "retired": "停用"},
    "batch.kind": {"claims": "结算清单", "hospitals": "医疗机构", "groups": "病组表"},
    # Statuses, decisions and agenda outcomes as the meeting papers, feedback letters and pages show them.
    "case.status": {
        "new": "新案件",
        "triaged": "已分派",
        "scheduled": "已排会",
        "decided": "已决定",
        "closed": "已结案",
        "appealed": "申诉中",
        "withdrawn": "已撤回",
    },
    "decision.kind": {
        "standard": "按病组标准支付",
        "special": "特例单议，同意追加支付",
        "deduct": "扣减",
        "merge": "合并结算（分解住院）",
        "refer": "移交调查",
    },
    "meeting.outcome": {
        "pending": "待议",
        "decided": "已决定",
        "deferred": "暂缓（下次会议）",
        "withdrawn": "撤回",
    },
    "meeting.status": {"open": "未结束", "closed": "已结束"},
    "assist.status": {"open": "待答复", "closed": "已答复"},
    "account.status": {"active": "正常", "disabled": "已停用", "locked": "已锁定（登录失败过多）"},
    # A rule-pack version's promotion in a region (`drgaudit rules versions`, the versions page).
    "promotion.stage": {"active": "在用", "shadow": "影子运行"},
    "promotion.status": {"pending": "待第二人确认", "in_force": "已确定"},
    "run.status": {"running": "进行中", "done": "完成", "partial": "部分完成", "failed": "失败"},
    "finding.state": {
        "open": "待医院答复",
        "accepted": "医院已认可",
        "confirmed": "逾期未答复，视为认可",
        "appealed": "医院申诉，待复审",
        "upheld": "复审维持",
        "overturned": "复审撤销",
        "adjusted": "复审调整金额",
        "escalated": "已提交评议会议",
        "withdrawn": "已撤回（重新筛查未再命中）",
    },
    "finding.outcome": {"upheld": "维持", "overturned": "撤销", "adjusted": "调整金额"},
    "assist.side": {"insured": "参保地", "treatment": "就医地"},
    "channel": {"cli": "命令行", "web": "网页", "api": "接口"},
    "assist.result": {
        "confirmed": "查实",
        "not_confirmed": "未查实",
        "partly_confirmed": "部分查实",
    },
    "role": {
        "admin": "系统管理员",
        "auditor": "规则与审核员",
        "secretary": "会议秘书",
        "expert": "评审专家",
        "hospital": "定点医疗机构",
        "insured_region": "参保地经办",
        "viewer": "只读用户",
        "integration": "结算系统接口",
    },
    "bool": {"True": "是", "False": "否", "true": "是", "false": "否"},
}
VALUE_LABELS["case.severity"] = VALUE_LABELS["severity"]

# What `earlier.x` (the earlier claim of a pair rule) is called before its field's label.
EARLIER_PREFIX = "前次住院·"


def flat_to_dotted(name: str) -> str:
    """The dotted name of an engine key: `group__avg_cost` → `group.avg_cost`."""
    return name.replace("__", ".")


def label(name: str, extra: Mapping[str, str] | None = None) -> str:
    """The Chinese label of a field, fact, setting or rule parameter; the name itself when there is none.

    `extra` adds labels known only at run time, e.g. a rule's parameters (`params.x`: its description).
    """
    if extra and name in extra:
        return extra[name]
    dotted = flat_to_dotted(name)
    if dotted in LABELS:
        return LABELS[dotted]
    if dotted.startswith("earlier."):
        return EARLIER_PREFIX + label(dotted.removeprefix("earlier."), extra)
    if (
        dotted.startswith("hospital.")
        and f"hospital.{dotted[9:]}" not in LABELS
        and dotted[9:] in CLAIM_LABELS
    ):
        return CLAIM_LABELS[dotted[9:]]
    if dotted.startswith("params."):
        return f"规则参数 {dotted.removeprefix('params.')}"
    if dotted.startswith("region."):
        return f"就医地参数 {dotted.removeprefix('region.')}"
    return name


def has_label(name: str) -> bool:
    """Whether `name` has its own label in the vocabulary."""
    return flat_to_dotted(name) in LABELS


def note(name: str) -> str:
    """What a fact means beyond its label ("" when the label says it all)."""
    return FACT_NOTES.get(flat_to_dotted(name), "")


def value_label(name: str, value: object) -> str:
    """The Chinese name of a coded value of field `name` (`discharge_mode`, "5" → 死亡); else the value."""
    if value is None or value == "":
        return "—"
    names = VALUE_LABELS.get(flat_to_dotted(name).removeprefix("earlier."))
    text = str(value)
    if names is None and isinstance(value, bool):
        names = VALUE_LABELS["bool"]
    if names is None:
        return text
    return names.get(text, text)


def family_name(code: str, declared: Mapping[str, str] | None = None) -> str:
    """A violation family's Chinese name: the contract's own (`VALUE_LABELS["family"]`), else the name a
    rule file declares for a family of its own (`families:` in `declared`, without its gloss in
    brackets), else the code."""
    known = VALUE_LABELS["family"].get(code)
    if known:
        return known
    own = (declared or {}).get(code)
    return own.split("（")[0] if own else code


def values_of(name: str) -> dict[str, str]:
    """Every coded value of field `name` with its Chinese name (empty when it is not coded)."""
    return dict(VALUE_LABELS.get(flat_to_dotted(name), {}))
