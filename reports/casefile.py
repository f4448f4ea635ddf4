"""One flagged claim as the meeting packet and the feedback letter show it: facts, payment, hits, stays.

Facts come from the engine's own derivation (`engine.facts.claim_facts` on a `ReferenceData` built once
per report), so the estimated payment is the figure the rules use: `payment_estimate` (the treatment
region's payment including high/low-ratio, per-diem and ungroupable formulas) when the engine derives
it, else `case_payment` (the group standard). Patient ids are masked in everything this module returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.screening import choose_codes
from drgaudit.contract import FEE_FIELDS
from drgaudit.engine.facts import ReferenceData, claim_facts
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.vocabulary import param_labels
from drgaudit.labels import VALUE_LABELS, flat_to_dotted, label, value_label
from drgaudit.reports.labels import LEVEL_NAMES, Vocabulary
from drgaudit.reports.masking import Masker

ADMISSION_ROUTES = VALUE_LABELS["admission_route"]
DISCHARGE_MODES = VALUE_LABELS["discharge_mode"]
PAYMENT_KINDS = VALUE_LABELS["payment_kind"]
INSURANCE = VALUE_LABELS["insurance_type"]
GENDERS = VALUE_LABELS["gender"]
FEES = tuple((name, label(name)) for name in FEE_FIELDS)
# Evidence facts a person reads; the claim's own fields are in the facts table already.
_HIDDEN_EVIDENCE = {"patient_id", "claim_id", "treatment_region", "insured_region", "hospital_id"}


@dataclass
class HitView:
    """One hit of a case, masked, with its evidence flattened for a table."""

    rule_id: str
    title: str
    family: str
    severity: str
    action: str
    amount: float
    message: str
    facts: list[tuple[str, str]]
    thresholds: list[tuple[str, str]]
    related: list[str]
    present: bool = True
    basis: str = ""  # the documents and articles the rule cites (evidence.rule.reference)


@dataclass
class Stay:
    """One stay of the patient on the timeline."""

    claim_id: str
    hospital: str
    admit: dt.date
    discharge: dt.date
    group: str
    principal_dx: str
    cost: float
    current: bool


@dataclass
class CaseFile:
    """Everything one case page shows."""

    claim: dict[str, Any]
    patient: str
    hospital: str
    hospital_level: str
    insured_region: str
    treatment_region: str
    cross_region: bool
    los_days: int
    group_name: str
    group_weight: float | None
    group_avg_cost: float | None
    payment: float | None
    payment_label: str
    standard: float | None
    facts_rows: list[tuple[str, str]]
    fees: list[tuple[str, float]]
    hits: list[HitView] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)

    @property
    def claim_id(self) -> str:
        return str(self.claim["claim_id"])

    @property
    def difference(self) -> float | None:
        return None if self.payment is None else self.claim["total_cost"] - self.payment


def _coded(name: str) -> bool:
    """Whether a fact's values have names (`discharge_mode`, and the earlier stay's `earlier.discharge_mode`,
    whose code was shown bare: 前次住院·离院方式 2)."""
    return flat_to_dotted(name).removeprefix("earlier.") in VALUE_LABELS


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "—"
    return "—" if value is None or value == "" else str(value)


class CaseFiles:
    """Builds case files with reference data loaded once (hospitals, groups, code tables, rule pack)."""

    def __init__(
        self,
        *,
        session: Session,
        masker: Masker,
        words: Vocabulary,
        rules_dir: Path | None = None,
        history_days: int = 365,
    ) -> None:
        self.session = session
        self.masker = masker
        self.words = words
        self.history_days = history_days
        rules_dir = Path(rules_dir) if rules_dir else bundled_rules_dir()
        pack = load_pack(rules_dir)
        codes = choose_codes(session=session, codes_dir=None, rules_dir=rules_dir)
        self.hospitals = queries.load_hospitals(session=session)
        self.ref = ReferenceData(self.hospitals, queries.load_groups(session=session), codes, pack)

    @classmethod
    def from_reference(
        cls,
        *,
        session: Session,
        masker: Masker,
        words: Vocabulary,
        hospitals: dict[str, dict[str, Any]],
        reference: ReferenceData,
        history_days: int = 365,
    ) -> CaseFiles:
        """Case files on reference data loaded earlier (a long-running service keeps it between requests)."""
        files = cls.__new__(cls)
        files.session, files.masker, files.words, files.history_days = session, masker, words, history_days
        files.hospitals, files.ref = hospitals, reference
        return files

    def _name(self, code: str, table: dict[str, str]) -> str:
        name = table.get(code)
        return f"{code} {name}" if name else code

    def build(self, claim_id: str, hits: list[HitView]) -> CaseFile:
        """The case file of a stored claim with the given (already masked) hits."""
        claim = queries.get_claim(session=self.session, claim_id=claim_id)
        if claim is None:
            from drgaudit.reports.errors import ReportError

            raise ReportError(f"no claim {claim_id} in the casebook")
        facts = claim_facts(claim, self.ref)
        codes = self.ref.codes
        hospital = self.hospitals.get(claim["hospital_id"], {})
        estimate = facts.get("payment_estimate")
        if estimate is not None:
            kind = facts.get("payment_kind")
            payment, shown = estimate, "测算支付" + (f"（{PAYMENT_KINDS.get(kind, kind)}）" if kind else "")
        else:
            payment, shown = facts.get("case_payment"), "病组标准支付"
        group = claim.get("group_code") or "—"
        # Row names from the one vocabulary (drgaudit.labels); two related facts share a row.
        rows = [
            (label("claim_id"), claim["claim_id"]),
            (f"{label('patient_id')}（脱敏）", self.masker.mask(claim["patient_id"])),
            (f"{label('gender')} / {label('age')}", f"{value_label('gender', claim['gender'])} / {claim['age']}岁"),
            (label("insurance_type"), value_label("insurance_type", claim["insurance_type"])),
            (f"{label('insured_region')} → {label('treatment_region')}",
             f"{self.words.region(claim['insured_region'])} → {self.words.region(claim['treatment_region'])}"
             + ("（省内异地）" if facts["is_cross_region"] else "（本地）")),
            ("医院", f"{hospital.get('name') or claim['hospital_id']}（{claim['hospital_id']}，{value_label('hospital.level', hospital.get('level'))}）"),
            (label("dept_code"), _text(claim.get("dept_code"))),
            (f"{label('admit_date')} / {label('discharge_date')}",
             f"{claim['admit_date'].isoformat()} 至 {claim['discharge_date'].isoformat()}，{label('los_days')}{facts['los_days']}天"),
            (f"{label('admission_route')} / {label('discharge_mode')}",
             f"{value_label('admission_route', claim.get('admission_route'))} / {value_label('discharge_mode', claim['discharge_mode'])}"),
            (label("readmit_plan_31d"), value_label("readmit_plan_31d", claim.get("readmit_plan_31d"))),
            (label("principal_dx"), self._name(claim["principal_dx"], codes.diagnoses)),
            (label("secondary_dx"), "；".join(self._name(c, codes.diagnoses) for c in claim.get("secondary_dx") or []) or "—"),
            ("其中 MCC / CC", f"{_text(facts.get('mcc_codes'))} / {_text(facts.get('cc_codes'))}"),
            (label("procedures"), "；".join(self._name(c, codes.procedures) for c in claim.get("procedures") or []) or "—"),
            (f"{label('icu_hours')} / {label('ventilator_hours')}",
             f"{_text(claim.get('icu_hours'))} / {_text(claim.get('ventilator_hours'))}"),
            (f"{label('payment_scheme')} / {label('group_code')}",
             f"{value_label('payment_scheme', claim['payment_scheme'])} / {group} {facts.get('group__name') or ''}".rstrip()),
            (label("codes_source"), codes.label),
        ]  # fmt: skip
        fees = [(name, float(claim[key])) for key, name in FEES if claim.get(key)]
        case = CaseFile(
            claim=claim, patient=self.masker.mask(claim["patient_id"]),
            hospital=hospital.get("name") or claim["hospital_id"], hospital_level=LEVEL_NAMES.get(str(hospital.get("level")), "—"),
            insured_region=self.words.region(claim["insured_region"]), treatment_region=self.words.region(claim["treatment_region"]),
            cross_region=bool(facts["is_cross_region"]), los_days=int(facts["los_days"]), group_name=facts.get("group__name") or "",
            group_weight=facts.get("group__weight"), group_avg_cost=facts.get("group__avg_cost"), payment=payment,
            payment_label=shown, standard=facts.get("case_payment"), facts_rows=rows, fees=fees, hits=hits,
        )  # fmt: skip
        case.stays = self._stays(claim)
        return case

    def _stays(self, claim: dict[str, Any]) -> list[Stay]:
        since = claim["admit_date"] - dt.timedelta(days=self.history_days)
        found = queries.claims_for_patients(
            session=self.session, patient_ids=[claim["patient_id"]], since=since
        )
        stays = []
        for other in found[claim["patient_id"]]:
            if other["admit_date"] > claim["discharge_date"] + dt.timedelta(days=self.history_days):
                continue
            hospital = self.hospitals.get(other["hospital_id"], {})
            stays.append(
                Stay(other["claim_id"], hospital.get("name") or other["hospital_id"], other["admit_date"], other["discharge_date"],
                     other.get("group_code") or "—", other["principal_dx"], float(other["total_cost"]), other["claim_id"] == claim["claim_id"])
            )  # fmt: skip
        return stays

    def hit_view(self, *, patient_id: str, rule_id: str, family: str, severity: str, action: str, amount: float, message: str,
                 evidence: dict[str, Any] | None, present: bool = True) -> HitView:  # fmt: skip
        """A stored hit for a person: names in Chinese, evidence flattened, the patient id masked everywhere."""
        evidence = self.masker.mask_value(evidence or {}, [patient_id])
        self.words.remember_rule(rule_id, evidence)
        rule = next((r for r in self.ref.pack.rules if r.id == rule_id), None)
        params = param_labels(rule) if rule is not None else {}
        # Chinese names from the one vocabulary (drgaudit.labels), coded values by their names too.
        facts = [
            (label(k), value_label(k, v) if _coded(k) or isinstance(v, bool) else _text(v))
            for k, v in (evidence.get("facts") or {}).items()
            if k not in _HIDDEN_EVIDENCE
        ]
        thresholds = [(label(k, params), _text(v)) for k, v in (evidence.get("thresholds") or {}).items()]
        return HitView(
            rule_id, self.words.rule_title(rule_id), self.words.family(family), self.words.severity(severity),
            self.words.action(action), float(amount or 0), self.masker.mask_text(message, [patient_id]), facts, thresholds,
            list(evidence.get("related_claims") or []), present, str((evidence.get("rule") or {}).get("reference") or ""),
        )  # fmt: skip
