"""What the OpenAPI schema of `/api/v1` says (served at /api/v1/docs): request and answer shapes.

The claim's JSON schema is made from the data contract's fields (`drgaudit.contract`), so it cannot
drift from what the importer's converter checks. The answer models document the JSON the routes send
(they are not used to re-validate it, which would cost time on every request).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from drgaudit.api.errors import CODES
from drgaudit.contract import CLAIM_FIELDS
from drgaudit.contract import Field as ContractField

_JSON_TYPES = {"int": "integer", "decimal": "number", "bool": "boolean"}


def _field_schema(spec: ContractField) -> dict[str, Any]:
    if spec.type == "list":
        schema: dict[str, Any] = {
            "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}],
            "description": f"{spec.label}（编码数组，或以 | 分隔的字符串）",
        }
    elif spec.type in _JSON_TYPES:
        schema = {"anyOf": [{"type": _JSON_TYPES[spec.type]}, {"type": "string"}], "description": spec.label}
    elif spec.type == "date":
        schema = {"type": "string", "format": "date", "description": f"{spec.label}（YYYY-MM-DD）"}
    else:
        schema = {"type": "string", "description": spec.label}
    if spec.choices:
        schema["enum"] = list(spec.choices)
        schema.pop("anyOf", None)
        schema["type"] = "string"
    if spec.minimum is not None and spec.type in ("int", "decimal"):
        schema["description"] += f"，不小于 {spec.minimum:g}"
    return schema


CLAIM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "结算清单（数据契约字段）",
    "additionalProperties": False,
    "required": [f.name for f in CLAIM_FIELDS if f.required],
    "properties": {f.name: _field_schema(f) for f in CLAIM_FIELDS},
}

_EXAMPLE_CLAIM = {
    "claim_id": "JS2025000123", "patient_id": "P510700000001", "gender": "1", "age": 67,
    "insured_region": "510700", "treatment_region": "510100", "insurance_type": "employee",
    "hospital_id": "H51010000001", "admit_date": "2025-06-10", "discharge_date": "2025-06-17",
    "discharge_mode": "1", "principal_dx": "J18.900", "secondary_dx": ["I10.x00x002"], "procedures": [],
    "payment_scheme": "DRG", "group_code": "ES35", "total_cost": 9000, "fund_paid": 6300,
    "self_pay": 2200, "self_expense": 500,
}  # fmt: skip

SCREEN_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "title": "一份",
                            "required": ["claim"],
                            "additionalProperties": False,
                            "properties": {"claim": CLAIM_SCHEMA},
                        },
                        {
                            "type": "object",
                            "title": "多份",
                            "required": ["claims"],
                            "additionalProperties": False,
                            "properties": {"claims": {"type": "array", "minItems": 1, "items": CLAIM_SCHEMA}},
                        },
                    ]
                },
                "example": {"claim": _EXAMPLE_CLAIM},
            }
        },
    }
}

SCREEN_DESCRIPTION = """\
按就医地当前启用的规则包审核一份或多份结算清单（数据契约字段，JSON）。参保人此前已保存的住院记录自动作为
历史（分解住院、频繁住院、住院时间重叠等规则据此判断），请求中无需附带。

- 每份清单按导入时相同的规则校验；有误时返回 422 `invalid_claims`，`problems` 逐项列出
  `claims[i].字段: 原因`，不作任何保存。
- 返回每份清单的命中（数据契约的审核输出格式）、结论 `verdict`（命中中最严重的处理方式：
  pass < note < hold < deduct < special_review）和规则包版本。
- `store=true` 时同时保存清单（内容变化时作为修订）、命中结果，并生成特例单议案件；同一请求重复提交不会重复保存。
"""


class HitOut(BaseModel):
    """A hit in the data contract's screening-output form."""

    claim_id: str
    rule_id: str
    family: str
    severity: str
    action: str
    amount_at_risk: float
    message: str
    evidence: dict[str, Any]
    rule_version: str
    code_set: str = ""  # the code tables the claim was judged against, as in `drgaudit screen` output


class CaseRef(BaseModel):
    id: int
    status: str
    version: int


class ClaimAnswer(BaseModel):
    claim_id: str
    verdict: str = Field(description="pass | note | hold | deduct | special_review")
    amount_at_risk: float
    treatment_region: str
    rules_version: str = Field(description="审核所用规则包版本（内容哈希）")
    hits: list[HitOut]
    review_case: CaseRef | None = Field(description="已有的特例单议案件（store=true 时）")


class StoredSummary(BaseModel):
    batch_ids: list[int]
    already_stored: bool
    claims: dict[str, int]
    hits: dict[str, int]
    review_cases: dict[str, int]


class ScreenAnswer(BaseModel):
    claims: list[ClaimAnswer]
    rules_versions: list[str]
    stored: StoredSummary | None
    request_id: str


class FactOut(BaseModel):
    name: str
    label: str
    value: Any


class ConditionOut(BaseModel):
    kind: str
    condition: str
    value: bool


class RuleOut(BaseModel):
    rule_id: str
    title: str
    action: str
    severity: str
    fired: bool
    applies: bool
    not_applicable: list[str]
    earlier_claim: str | None
    conditions: list[ConditionOut]
    values: dict[str, Any]
    hit: HitOut | None


class Explanation(BaseModel):
    claim_id: str
    treatment_region: str
    profile: str
    rules_version: str
    verdict: str
    facts: list[FactOut]
    rules: list[RuleOut]
    request_id: str


class CaseOut(BaseModel):
    id: int
    claim_id: str
    status: str
    version: int
    region: str
    insured_region: str
    hospital_id: str
    payment_scheme: str
    group_code: str | None
    discharge_date: str
    period: str
    total_cost: float
    severity: str
    amount_at_risk: float
    priority: float
    rules: str
    assignee: str | None
    due_date: str | None


class CaseList(BaseModel):
    cases: list[CaseOut]
    total: int
    limit: int
    offset: int
    request_id: str


class CaseHitOut(BaseModel):
    rule_id: str
    family: str
    severity: str
    action: str
    amount_at_risk: float
    message: str
    present: bool


class DecisionOut(BaseModel):
    id: int
    round: int
    kind: str
    amount: float
    items: list[dict[str, Any]] | None
    merged_with: str | None
    reason: str
    decided_by: str
    decided_at: str | None
    meeting_id: int | None
    superseded: bool


class CaseDetail(BaseModel):
    case: CaseOut
    hits: list[CaseHitOut]
    decisions: list[DecisionOut]
    request_id: str


class DecisionAnswer(BaseModel):
    case: CaseOut
    decision: DecisionOut
    request_id: str


class ActivePack(BaseModel):
    region: str
    version: str
    source: str = Field(description="casebook（已登记并启用的版本）或 folder（--rules 或内置规则包）")
    version_id: int | None
    effective_from: str | None
    registered_by: str | None
    approved_by: str | None


class ActivePacks(BaseModel):
    packs: list[ActivePack]
    regions_without_pack: list[str]
    request_id: str


class ErrorBody(BaseModel):
    code: str = Field(description="稳定的错误代码：" + "、".join(CODES))
    message: str = Field(description="中文说明")
    detail: str | None = None
    problems: list[str] | None = None


class ErrorAnswer(BaseModel):
    error: ErrorBody
    request_id: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": ErrorAnswer,
        "description": "、".join(code for code, c in CODES.items() if c.status == status),
    }
    for status in sorted({c.status for c in CODES.values()})
}
