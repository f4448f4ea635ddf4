"""Shared steps of the auditors' scenarios: reference tables, claims from data tables, screening, hits.

A scenario describes a small world in tables (the treatment region's group table, the designated
hospitals, a patient's stays), screens the stays of the batch with the real rule pack on durable-rules,
and states what the auditor expects to see: which rule fired on which claim, with what message,
amount at risk and evidence.

Data tables take Chinese column names (the DATA-CONTRACT labels, e.g. 入院日期, 主要诊断, or the
short forms below) or the contract's field names. Fields a table leaves out keep the canonical
defaults of `tests.engine_support`, except that:

- the treatment region (就医地) is the region of the claim's hospital;
- a discharge date left out is the admission date plus 住院天数 (7 days if that is left out too);
- when 医疗费总额 is given, the fee categories not given share what the given ones leave of it, in
  the default claim's proportions, and the payments not given scale with it (统筹基金支付 is what the
  patient does not pay), so the claim stays self-consistent.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_bdd import given, parsers, then, when

from drgaudit.contract import FEE_FIELDS, FIELDS_BY_KIND, Field
from drgaudit.engine.codes import CodeTables, resolve_codes_dir
from drgaudit.engine.exceptions import RulePackError, UnconfiguredRegionError
from drgaudit.engine.facts import ReferenceData, claim_facts
from drgaudit.engine.hits import Hit
from drgaudit.engine.indicators import case_mix_of, hospital_indicators, peer_rule
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.pack import RulePack
from drgaudit.engine.ruletest import ExampleResult
from drgaudit.engine.screen import Screener, screen_claims
from tests.engine_support import claim as base_claim
from tests.engine_support import group as base_group
from tests.engine_support import hospital as base_hospital
from tests.engine_support import reference

# Short column names an auditor writes, besides the contract labels and field names.
COLUMN_ALIASES: dict[str, dict[str, str]] = {
    "claims": {
        "结算清单号": "claim_id", "病例": "claim_id", "参保人": "patient_id", "医院": "hospital_id",
        "再住院计划": "readmit_plan_31d", "手术操作": "procedures", "病组": "group_code",
        "重症监护小时": "icu_hours", "呼吸机小时": "ventilator_hours", "有创通气小时": "ventilator_hours",
    },
    "hospitals": {"机构编码": "hospital_id", "医院": "hospital_id", "名称": "name", "统筹区": "region", "等级": "level"},
    "groups": {
        "就医地": "region", "统筹区": "region", "病组": "group_code", "名称": "name", "权重": "weight",
        "权重/分值": "weight", "次均费用": "avg_cost", "平均住院日": "avg_los",
    },
}  # fmt: skip

# Coded values may be written as the words on the settlement list.
VALUE_WORDS: dict[str, dict[str, str]] = {
    "gender": {"男": "1", "女": "2"},
    "insurance_type": {"职工": "employee", "居民": "resident", "城乡居民": "resident"},
    "admission_route": {"急诊": "1", "门诊": "2", "转入": "3", "其他医疗机构转入": "3", "其他": "9"},
    "discharge_mode": {
        "医嘱离院": "1",
        "医嘱转院": "2",
        "转社区": "3",
        "非医嘱离院": "4",
        "死亡": "5",
        "其他": "9",
    },
    "readmit_plan_31d": {"无": "1", "有": "2"},
    "payment_scheme": {"按病组": "DRG", "按病种分值": "DIP", "按床日": "PER_DIEM", "按项目": "FFS"},
    "scheme": {"按病组": "DRG", "按病种分值": "DIP"},
    "level": {"一级": "1", "二级": "2", "三级": "3"},
}
TRUE_WORDS = {"是": True, "否": False, "true": True, "false": False}
LIST_SPLIT = re.compile(r"\s*[|、，,]\s*")
NOTHING = {"无", "（无）", "-", "—"}
DEFAULT_STAY_DAYS = 7
PAYMENT_FIELDS = ("self_pay", "self_expense", "outside_purchase")

# The audit log is sealed with a key kept outside the casebook (casebook.auditkey): tests use a fixed key
# from the environment (inherited by the processes they start), never a key file in the user's home.
os.environ.setdefault("DRGAUDIT_AUDIT_KEY", "drgaudit-tests-audit-key-0123456789abcdef")


def money(text: str) -> float:
    """An amount as an auditor writes it: 11,113.20 or 950."""
    return float(text.replace(",", "").replace("，", ""))


def words(text: str) -> list[str]:
    """A list written in one cell or phrase: `A、B`, `A|B`, `A, B`; 无 for none."""
    text = text.strip()
    if text in NOTHING or not text:
        return []
    return [part for part in LIST_SPLIT.split(text) if part]


PARSE_TYPES: dict[str, Callable[[str], Any]] = {"money": money, "ids": words}


def step(pattern: str) -> parsers.parse:
    """A typed step pattern: `{金额:money}`, `{编号:ids}`, `{天数:d}`, `{值}`."""
    return parsers.parse(pattern, extra_types=PARSE_TYPES)


def _columns(kind: str) -> dict[str, Field]:
    fields = {f.name: f for f in FIELDS_BY_KIND[kind]}
    columns = dict(fields)
    columns.update({f.label: f for f in fields.values()})
    columns.update({alias: fields[name] for alias, name in COLUMN_ALIASES[kind].items()})
    return columns


COLUMNS = {kind: _columns(kind) for kind in FIELDS_BY_KIND}


def convert(spec: Field, text: str) -> Any:
    """One table cell as the canonical value of its contract field (ARCHITECTURE.md "Canonical records")."""
    text = text.strip()
    if spec.type == "list":
        return words(text)
    if text == "":
        return None
    if spec.type == "date":
        return dt.date.fromisoformat(text)
    if spec.type == "int":
        return int(text)
    if spec.type == "decimal":
        return money(text)
    if spec.type == "bool":
        return TRUE_WORDS[text.lower()]
    if spec.type == "enum":
        value = VALUE_WORDS.get(spec.name, {}).get(text, text)
        assert value in spec.choices, (
            f"{spec.label}（{spec.name}）不能是 {text!r}，可选：{', '.join(spec.choices)}"
        )
        return value
    return text


def table_rows(kind: str, datatable: list[list[str]], extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A data table (header row first) as records of one contract kind; `extra` columns pass through as text."""
    header, *rows = datatable
    unknown = [h for h in header if h not in COLUMNS[kind] and h not in extra]
    assert not unknown, f"表头 {unknown} 不是{kind}的字段；可用：{', '.join(COLUMNS[kind])}"
    records = []
    for row in rows:
        record: dict[str, Any] = {}
        for name, cell in zip(header, row, strict=True):
            if name in extra:
                record[name] = cell.strip()
            else:
                spec = COLUMNS[kind][name]
                record[spec.name] = convert(spec, cell)
        records.append(record)
    return records


@dataclass
class Audit:
    """The world of one scenario and what screening it gave."""

    bundled_pack: RulePack
    codes: CodeTables
    rules_dir: Path | None = None  # the auditor's own copy of the rules, when the scenario edits rules
    hospitals: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    batch: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    hits: list[Hit] | None = None
    screened: list[str] = field(default_factory=list)
    load_error: RulePackError | None = None
    screen_error: UnconfiguredRegionError | None = None
    hit: Hit | None = None
    results: list[ExampleResult] = field(default_factory=list)
    failure: ExampleResult | None = None

    def pack(self) -> RulePack:
        """The rule pack in force: the auditor's edited copy, read afresh, or the bundled one."""
        return load_pack(self.rules_dir) if self.rules_dir is not None else self.bundled_pack

    def code_tables(self) -> CodeTables:
        """The code tables that go with the rule pack in force (a copy carries its own `codes/`)."""
        if self.rules_dir is None:
            return self.codes
        return CodeTables.from_dir(resolve_codes_dir(None, self.rules_dir))

    def reference(self, pack: RulePack) -> ReferenceData:
        """Hospitals, groups and code tables of the scenario; hospital indicators over the batch, as screening computes them."""
        ref = reference(pack, self.code_tables(), list(self.hospitals.values()), list(self.groups.values()))
        levels = {hid: int(h["level"]) for hid, h in self.hospitals.items()}
        ref.indicators = hospital_indicators(case_mix_of(self.batch), levels, peers_by=peer_rule(pack))
        return ref

    def claim(self, claim_id: str) -> dict[str, Any]:
        for record in [*self.batch, *self.history]:
            if record["claim_id"] == claim_id:
                return record
        raise AssertionError(f"场景中没有病例 {claim_id}")

    def hits_of(self, claim_id: str) -> list[Hit]:
        assert self.hits is not None, "还没有筛查"
        self.claim(claim_id)
        return [h for h in self.hits if h.claim_id == claim_id]

    def current(self) -> Hit:
        assert self.hit is not None, "前面的步骤没有指明是哪一条命中"
        return self.hit


# `drgaudit rules mutate --features` runs the scenarios against a mutated copy of the pack named here.
RULES_UNDER_TEST_ENV = "DRGAUDIT_FEATURES_RULES"


def rules_under_test() -> Path:
    """The pack the scenarios state the policy of: the bundled one, or the folder in $DRGAUDIT_FEATURES_RULES."""
    return Path(os.environ.get(RULES_UNDER_TEST_ENV) or bundled_rules_dir())


@pytest.fixture(scope="session")
def bundled_pack() -> RulePack:
    return load_pack(rules_under_test())


@pytest.fixture(scope="session")
def bundled_codes() -> CodeTables:
    return CodeTables.from_dir(resolve_codes_dir(None, rules_under_test()))


@pytest.fixture
def audit(bundled_pack: RulePack, bundled_codes: CodeTables) -> Audit:
    return Audit(bundled_pack, bundled_codes)


# ---- the world -------------------------------------------------------------------------------------


@given("就医地病组表如下")
def group_table(audit: Audit, datatable: list[list[str]]) -> None:
    """Groups of the treatment regions' tables (付费方式 DRG unless given)."""
    for record in table_rows("groups", datatable):
        entry = base_group(record.pop("group_code"), record.pop("region"))
        entry.update({k: v for k, v in record.items() if v is not None})
        audit.groups[(entry["region"], entry["scheme"], entry["group_code"])] = entry


@given("定点医疗机构如下")
def hospital_table(audit: Audit, datatable: list[list[str]]) -> None:
    """Designated hospitals (level 3, designated long ago, not a regional centre unless given)."""
    for record in table_rows("hospitals", datatable):
        entry = base_hospital(record.pop("hospital_id"), record.pop("region"))
        entry.update({k: v for k, v in record.items() if v is not None})
        audit.hospitals[entry["hospital_id"]] = entry


def build_claims(audit: Audit, datatable: list[list[str]]) -> list[dict[str, Any]]:
    """Canonical claims from a table of stays, completed as the module docstring says."""
    claims = []
    for record in table_rows("claims", datatable, extra=("住院天数",)):
        stay = record.pop("住院天数", None)
        explicit = {k for k, v in record.items() if v is not None}
        assert "claim_id" in explicit, "每条住院记录都要有结算清单号"
        claim = base_claim()
        hospital = audit.hospitals.get(record.get("hospital_id") or claim["hospital_id"])
        if hospital is not None:
            claim["treatment_region"] = hospital["region"]
        if "admit_date" in explicit and "discharge_date" not in explicit:
            record["discharge_date"] = record["admit_date"] + dt.timedelta(
                days=int(stay or DEFAULT_STAY_DAYS)
            )
        elif stay:
            record["discharge_date"] = (record.get("admit_date") or claim["admit_date"]) + dt.timedelta(
                days=int(stay)
            )
        if "total_cost" in explicit:
            _rescale(claim, record, explicit)
        claim.update({k: v for k, v in record.items() if v is not None})
        claims.append(claim)
    return claims


def _rescale(claim: dict[str, Any], record: dict[str, Any], explicit: set[str]) -> None:
    total = record["total_cost"]
    fees_left = [k for k in FEE_FIELDS if k not in explicit and claim.get(k)]
    remainder = max(0.0, total - sum(record[k] for k in FEE_FIELDS if k in explicit))
    default_left = sum(claim[k] for k in fees_left)
    for key in fees_left:
        claim[key] = round(remainder * claim[key] / default_left, 2)
    factor = total / claim["total_cost"]
    for key in PAYMENT_FIELDS:
        if key not in explicit and claim.get(key):
            claim[key] = round(claim[key] * factor, 2)
    if "fund_paid" not in explicit:
        paid_by_patient = sum(
            record[k] if k in explicit else claim[k] or 0.0 for k in ("self_pay", "self_expense")
        )
        claim["fund_paid"] = round(max(0.0, total - paid_by_patient), 2)


@given("参保人有以下住院记录")
def batch_table(audit: Audit, datatable: list[list[str]]) -> None:
    """The stays of the batch being screened."""
    audit.batch.extend(build_claims(audit, datatable))


@given("参保人此前已结算的住院记录如下（不在本批次）")
def history_table(audit: Audit, datatable: list[list[str]]) -> None:
    """Earlier, already settled stays: context for the batch, never screened themselves."""
    audit.history.extend(build_claims(audit, datatable))


@given(step("病例 {编号} 也放入本批次"))
def move_to_batch(audit: Audit, 编号: str) -> None:
    record = audit.claim(编号)
    audit.history = [c for c in audit.history if c is not record]
    audit.batch.append(record)


@given("审核人员的规则目录是内置规则包的一份副本")
def own_rules(audit: Audit, tmp_path: Path) -> Path:
    """A private copy of the bundled rules (with its code tables) that the scenario may edit."""
    if audit.rules_dir is None:
        target = tmp_path / "rules"
        shutil.copytree(
            rules_under_test(), target, ignore=shutil.ignore_patterns("__init__.py", "__pycache__")
        )
        audit.rules_dir = target
    return audit.rules_dir


def _edit_settings(audit: Audit, tmp_path: Path, file: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Load a region file of the auditor's copy with YAML, change its settings, write it back."""
    path = own_rules(audit, tmp_path) / file
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document.setdefault("settings", {}))
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


@given(step("审核人员把 {文件} 中的设置 {名称} 改为 {值}"))
def set_region_setting(audit: Audit, tmp_path: Path, 文件: str, 名称: str, 值: str) -> None:
    def set_value(settings: dict[str, Any]) -> None:
        settings[名称] = yaml.safe_load(值)

    _edit_settings(audit, tmp_path, 文件, set_value)


@given(step("审核人员把 {文件} 中的设置 {名称} 删去"))
def drop_region_setting(audit: Audit, tmp_path: Path, 文件: str, 名称: str) -> None:
    def drop(settings: dict[str, Any]) -> None:
        assert 名称 in settings, f"{文件} 没有设置 {名称}"
        del settings[名称]

    _edit_settings(audit, tmp_path, 文件, drop)


@given(step('审核人员把 {文件} 中的 "{原文}" 改为 "{改后}"'))
def edit_rule_text(audit: Audit, tmp_path: Path, 文件: str, 原文: str, 改后: str) -> None:
    """A text edit of one rule, list or region file of the auditor's copy (the first occurrence)."""
    path = own_rules(audit, tmp_path) / 文件
    text = path.read_text(encoding="utf-8")
    assert 原文 in text, f"{文件} 中没有 {原文!r}"
    path.write_text(text.replace(原文, 改后, 1), encoding="utf-8")


# ---- screening -------------------------------------------------------------------------------------


def screen(audit: Audit, *, catch_load_error: bool = False) -> None:
    """Load the rule pack in force and screen the batch with the history as context."""
    for record in [*audit.batch, *audit.history]:
        assert record["hospital_id"] in audit.hospitals, (
            f"病例 {record['claim_id']} 的医院 {record['hospital_id']} 不在定点医疗机构表中"
        )
    audit.hits, audit.hit, audit.screened, audit.load_error = None, None, [], None
    try:
        pack = audit.pack()
    except RulePackError as error:
        if not catch_load_error:
            raise
        audit.load_error = error
        return
    screener = Screener(pack, audit.reference(pack))
    audit.hits = screen_claims(screener, audit.batch, audit.history)
    audit.screened = [c["claim_id"] for c in audit.batch]


@when("筛查这批住院")
@when("再次筛查这批住院")
def screen_batch(audit: Audit) -> None:
    screen(audit)


@when("尝试筛查这批住院")
def try_screen(audit: Audit) -> None:
    """Screen, keeping an error that stops screening (an unconfigured treatment region) for a Then step."""
    try:
        screen(audit)
    except UnconfiguredRegionError as error:
        audit.screen_error = error


@then(step("筛查停止，错误指明就医地 {编码} 没有参数"))
def screening_stopped(audit: Audit, 编码: str) -> None:
    assert audit.screen_error is not None, "筛查应当停止"
    assert audit.screen_error.regions == [编码]
    assert f"treatment region {编码} has no configuration" in str(audit.screen_error)
    assert audit.hits is None


@given("审核人员在 pack.yaml 中允许按全国默认占位费率测算")
def allow_placeholders(audit: Audit, tmp_path: Path) -> None:
    path = own_rules(audit, tmp_path) / "pack.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nallow_placeholder_rates: true\n", encoding="utf-8")


@when("加载规则包并筛查这批住院")
def load_and_screen(audit: Audit) -> None:
    screen(audit, catch_load_error=True)


# ---- hits ------------------------------------------------------------------------------------------


@then(step("病例 {编号} 命中 {规则}"))
def claim_hit(audit: Audit, 编号: str, 规则: str) -> None:
    found = [h for h in audit.hits_of(编号) if h.rule_id == 规则]
    got = [h.rule_id for h in audit.hits_of(编号)]
    assert len(found) == 1, f"病例 {编号} 应命中 {规则} 一次，实际命中：{got or '无'}"
    audit.hit = found[0]


@then(step("病例 {编号} 未命中 {规则}"))
def claim_not_hit(audit: Audit, 编号: str, 规则: str) -> None:
    hits = [h for h in audit.hits_of(编号) if h.rule_id == 规则]
    assert not hits, f"病例 {编号} 不应命中 {规则}：{hits[0].message if hits else ''}"


@then(step("病例 {编号} 没有任何命中"))
def claim_clean(audit: Audit, 编号: str) -> None:
    hits = audit.hits_of(编号)
    assert not hits, f"病例 {编号} 不应有命中，实际：{[(h.rule_id, h.message) for h in hits]}"


@then(step("病例 {编号} 只命中 {规则:ids}"))
def claim_hits_exactly(audit: Audit, 编号: str, 规则: list[str]) -> None:
    hits = audit.hits_of(编号)
    assert [h.rule_id for h in hits] == 规则, (
        f"病例 {编号} 应只命中 {规则}，实际：{[(h.rule_id, h.message) for h in hits]}"
    )
    audit.hit = hits[0] if len(hits) == 1 else None


@then(step("病例 {编号} 的 {类别} 类命中为 {规则:ids}"))
def claim_family_hits(audit: Audit, 编号: str, 类别: str, 规则: list[str]) -> None:
    got = [h.rule_id for h in audit.hits_of(编号) if h.family == 类别]
    assert got == 规则, f"病例 {编号} 的 {类别} 类命中应为 {规则 or '无'}，实际：{got or '无'}"


@then(step("病例 {编号} 的 {类别} 类疑点金额合计为 {金额:money} 元"))
def claim_family_amount(audit: Audit, 编号: str, 类别: str, 金额: float) -> None:
    got = sum(h.amount_at_risk for h in audit.hits_of(编号) if h.family == 类别)
    assert got == pytest.approx(金额, abs=0.005)


@then("命中只出现在本批次的病例上")
def hits_only_in_batch(audit: Audit) -> None:
    assert audit.hits, "本批次应有命中"
    assert {h.claim_id for h in audit.hits} <= set(audit.screened)


@then(step("该命中的问题类别为 {类别}，严重程度为 {严重程度}，处理方式为 {处理方式}"))
def hit_classification(audit: Audit, 类别: str, 严重程度: str, 处理方式: str) -> None:
    hit = audit.current()
    assert (hit.family, hit.severity, hit.action) == (类别, 严重程度, 处理方式)


@then(step("该命中的疑点金额为 {金额:money} 元"))
def hit_amount(audit: Audit, 金额: float) -> None:
    assert audit.current().amount_at_risk == pytest.approx(金额, abs=0.005)


@then(step("该命中的疑点金额为病例 {编号} 的病组支付标准 {金额:money} 元"))
def hit_amount_is_case_payment(audit: Audit, 编号: str, 金额: float) -> None:
    pack = audit.pack()
    payment = claim_facts(audit.claim(编号), audit.reference(pack))["case_payment"]
    assert payment == pytest.approx(金额, abs=0.005), f"病例 {编号} 的病组支付标准为 {payment}"
    assert audit.current().amount_at_risk == pytest.approx(金额, abs=0.005)


@then("该命中的说明为")
def hit_message(audit: Audit, docstring: str) -> None:
    assert audit.current().message == docstring.strip()


@then(step('该命中的说明包含 "{文字}"'))
def hit_message_contains(audit: Audit, 文字: str) -> None:
    assert 文字 in audit.current().message, audit.current().message


@then(step("该命中的关联病例为 {编号:ids}"))
def hit_related(audit: Audit, 编号: list[str]) -> None:
    hit = audit.current()
    assert hit.related_claims == 编号
    assert hit.evidence["related_claims"] == 编号


def _same(value: Any, text: str) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == pytest.approx(money(text))
    return str(value) == text


@then(step("该命中依据的阈值 {名称} 为 {值}"))
def hit_threshold(audit: Audit, 名称: str, 值: str) -> None:
    thresholds = audit.current().evidence["thresholds"]
    assert 名称 in thresholds, thresholds
    assert _same(thresholds[名称], 值), thresholds


@then(step("该命中依据的事实 {名称} 为 {值}"))
def hit_fact(audit: Audit, 名称: str, 值: str) -> None:
    facts = audit.current().evidence["facts"]
    assert 名称 in facts, facts
    assert _same(facts[名称], 值), facts


@then(step("病例 {编号} 的高倍率判定倍数为 {倍数}，所在分档为 {分档}"))
def claim_high_ratio(audit: Audit, 编号: str, 倍数: str, 分档: str) -> None:
    facts = claim_facts(audit.claim(编号), audit.reference(audit.pack()))
    assert facts["high_ratio_limit"] == pytest.approx(money(倍数)), facts["high_ratio_limit"]
    assert facts["high_ratio_tier"] == (None if 分档 in NOTHING else 分档), facts["high_ratio_tier"]


@then(step("病例 {编号} 的事实 {名称} 为 {值}"))
def claim_fact(audit: Audit, 编号: str, 名称: str, 值: str) -> None:
    facts = claim_facts(audit.claim(编号), audit.reference(audit.pack()))
    assert _same(facts[名称], 值), facts[名称]


@then("该命中注明使用了全国默认占位费率")
def hit_placeholder(audit: Audit) -> None:
    assert audit.current().evidence.get("placeholder_rates") is True


@then(step("病例 {编号} 的测算支付为 {金额:money} 元，测算方式为 {方式}"))
def claim_payment_estimate(audit: Audit, 编号: str, 金额: float, 方式: str) -> None:
    facts = claim_facts(audit.claim(编号), audit.reference(audit.pack()))
    assert facts["payment_estimate"] == pytest.approx(金额, abs=0.005), facts["payment_estimate"]
    assert facts["payment_kind"] == 方式
