# ruff: noqa: E712  (durable-rules overloads ==: `m.x == True` builds a test, `m.x` would not)
"""The baseline of bench/screen.py: the bundled rules written by hand in durable-rules' own Python DSL.

No drgaudit rule logic runs here (no rule expressions, compiler, evaluator, synthetic fields, evidence
or messages): facts are prepared by hand for exactly what these rules read (`Facts`), the rules are
`when_all` decorators, and claims go through durable-rules' documented host API (`assert_fact`,
`delete_state`). What is read from the loaded pack is data only: each rule's parameter values per
treatment region (after the region's overrides; a rule a region switches off is not defined there), its
effective dates, the named lists' items and match mode, and the region settings that price a claim
(rates, level coefficients, high/low/extreme ratios). The payment kind (standard, high/low ratio,
extreme) is worked out by hand from those settings; the hospital indicators UPC-004 reads are given,
worked out over the screened claims as the pipeline does over a batch.

It keeps the two workarounds without which durable-rules 2.0.28 gives wrong answers or crashes (see
drgaudit.engine.runtime): a closing fact per patient before `delete_state`, and in the pair rules the
tests that read the earlier claim first, ended by an always-true one. An `or` between tests of the two
claims is written as one durable-rules rule per alternative. It only records (rule, claim) pairs.

`IMPLEMENTED` lists the rule ids written here: bench/screen.py and tests/test_bench_baselines.py name
every active rule of the pack that is missing from it, so a new rule cannot make the comparison
silently apples-to-oranges.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Any

from durable import engine as durable_engine
from durable.lang import c, get_host, m, ruleset, when_all

from drgaudit.engine.codes import CodeTables
from drgaudit.engine.pack import RulePack

# The rules written below, in each of the three baselines (bench/plain_rules.py lists its own).
IMPLEMENTED = frozenset(
    {
        "UPC-001", "UPC-002", "UPC-003", "UPC-004", "OUT-HIGH-001", "OUT-EXT-001", "OUT-LOW-001", "OUT-UNG-001",
        "OUT-DEATH-001", "OUT-ICU-001", "OUT-NEW-001", "LOS-001", "LOS-002", "LOS-003", "LOS-004", "LOS-005",
        "COST-001", "COST-002", "LOWADM-001", "GHOST-001", "FREQ-001", "FREQ-002", "FREQ-003", "COACH-001", "SEV-001",
        "SPLIT-001", "SPLIT-002", "SPLIT-003", "SPLIT-004", "DQ-001", "DQ-003", "DQ-004", "DQ-005", "DQ-006",
        "DQ-007", "DQ-008", "DQ-009", "DQ-010", "DQ-011", "DQ-012", "DQ-013", "DQ-014", "DQ-015",
    }
)  # fmt: skip
SURGICAL = frozenset("ABCDEFGHIJ")  # second letter of a surgical DRG core group
FEE_FIELDS = (
    "fee_drug", "fee_material", "fee_lab", "fee_exam", "fee_treatment", "fee_surgery", "fee_nursing", "fee_bed",
    "fee_other",
)  # fmt: skip
# The episode counts of the frequent-admission rules (window and chain from each rule's params).
EPISODE_RULES = ("FREQ-001", "FREQ-002", "FREQ-003")
NONE = 10**9  # a day count for "no such stay": never within any window
_names = itertools.count()


def episodes_field(rule_id: str) -> str:
    return "episodes_" + rule_id.replace("-", "_").lower()


def add_months(day: dt.date, months: int) -> dt.date:
    """`months` calendar months after `day`, on the month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    following = dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)
    return dt.date(year, month, min(day.day, (following - dt.timedelta(days=1)).day))


class Facts:
    """Hand-prepared facts of claims: the fields the hand-written rules read, with the pack's data."""

    def __init__(
        self,
        pack: RulePack,
        hospitals: dict[str, dict],
        groups: dict[tuple[str, str, str], dict],
        codes: CodeTables,
        indicators: dict[str, dict[str, Any]],
    ) -> None:
        self.pack = pack
        self.hospitals = hospitals
        self.groups = groups
        self.codes = codes
        self.indicators = indicators
        # list name -> (prefix match?, items as a tuple, items as a set)
        self.lists = {
            name: (named.match == "prefix", tuple(named.items), frozenset(named.items))
            for name, named in pack.lists.items()
        }
        self.effective: dict[str, tuple[int, int]] = {}
        for rule in pack.rules:
            if rule.status != "active":
                continue
            if rule.id in self.effective:
                raise SystemExit(f"the bench baselines do not handle several active versions of {rule.id}")
            end = rule.effective_to.toordinal() if rule.effective_to else NONE
            self.effective[rule.id] = (rule.effective_from.toordinal(), end)
        self._params: dict[str, dict[str, dict[str, Any]]] = {}
        self._settings: dict[str, dict[str, Any]] = {}

    def params(self, region: str) -> dict[str, dict[str, Any]]:
        """Rule id -> parameter values in a treatment region, for the rules that screen its claims."""
        found = self._params.get(region)
        if found is None:
            found = self._params[region] = {b.rule.id: b.params for b in self.pack.bound_rules(region)}
        return found

    def settings(self, region: str) -> dict[str, Any]:
        found = self._settings.get(region)
        if found is None:
            found = self._settings[region] = self.pack.region(region).settings
        return found

    def listed(self, name: str, value: str | None) -> bool:
        if value is None:
            return False
        prefix, items, exact = self.lists[name]
        return value.startswith(items) if prefix else value in exact

    def any_listed(self, name: str, values: Iterable[str]) -> bool:
        return any(self.listed(name, v) for v in values)

    def count_listed(self, name: str, values: Iterable[str]) -> int:
        return sum(1 for v in values if self.listed(name, v))

    def patient(
        self, claims: Iterable[dict[str, Any]], targets: set[str] | None = None
    ) -> list[dict[str, Any]]:
        """The facts of one patient's claims in claim order (admission, discharge, id); `targets` are the
        claims to screen (all when None), the others are earlier stays read by the pair and count rules."""
        ordered = sorted(claims, key=lambda x: (x["admit_date"], x["discharge_date"], x["claim_id"]))
        facts = []
        for seq, claim in enumerate(ordered):
            target = targets is None or claim["claim_id"] in targets
            facts.append(self.fact(claim, seq, target))
        # The stay discharged last on or before each admission (at any hospital), for transfer chains.
        for i, current in enumerate(ordered):
            admit = current["admit_date"]
            prev = None
            for earlier in ordered[:i]:
                if earlier["discharge_date"] <= admit and (
                    prev is None or earlier["discharge_date"] >= prev["discharge_date"]
                ):
                    prev = earlier
            f = facts[i]
            f["prev_hospital_id"] = prev["hospital_id"] if prev else ""
            f["days_since_prev"] = (admit - prev["discharge_date"]).days if prev else NONE
            transferred = (
                prev is not None
                and prev["discharge_mode"] == "2"
                and prev["hospital_id"] != current["hospital_id"]
            )
            f["transfer_gap"] = f["days_since_prev"] if transferred else NONE
        for i, f in enumerate(facts):
            params = self.params(f["region"])
            for rule_id in EPISODE_RULES:
                p = params.get(rule_id)
                count = 0
                if p is not None:
                    window, chain = p["window_days"], p["chain_days"]
                    for e in facts[: i + 1]:
                        if (
                            f["admit"] - window < e["admit"] <= f["admit"]
                            and not (e["transfer_gap"] != NONE and e["transfer_gap"] <= chain)
                            and not e["periodic"]
                        ):
                            count += 1
                f[episodes_field(rule_id)] = count
        return facts

    def fact(self, claim: dict[str, Any], seq: int, target: bool) -> dict[str, Any]:
        """The fields these rules read of one claim, computed by hand."""
        region = claim["treatment_region"]
        settings = self.settings(region)
        params = self.params(region)
        scheme = claim["payment_scheme"]
        code = claim.get("group_code") or ""
        dd = scheme in ("DRG", "DIP")
        ungroupable = dd and (code == "0000" or code.upper().endswith("QY"))
        in_group = dd and bool(code) and not ungroupable
        group = self.groups.get((region, scheme, code)) if in_group else None
        hospital = self.hospitals.get(claim["hospital_id"])
        level = int(hospital["level"]) if hospital and hospital.get("level") is not None else None
        insured = claim["insured_region"]
        cross = insured != region and insured[:2] == region[:2]
        cross_province = insured[:2] != region[:2]
        indicators = self.indicators.get(claim["hospital_id"], {})
        rank = indicators.get("hospital__cross_cc_mcc_share_rank")
        excess = indicators.get("hospital__cc_mcc_share_excess")
        ranked = rank is not None and excess is not None
        total = float(claim["total_cost"])
        outside = float(claim.get("outside_purchase") or 0)
        avg_cost = float(group["avg_cost"]) if group else 0.0
        weight = float(group["weight"]) if group else 0.0
        ratio = (total + outside) / avg_cost if avg_cost > 0 else None
        kind, high, low, extreme = "unknown", 0.0, 0.0, 0.0
        if in_group:
            high, low, extreme = ratio_limits(settings, scheme, weight if group else None)
        if ratio is not None:
            kind = pay_kind(settings, scheme, code, ratio, level, cross_province, high, low, extreme)
        secondary = tuple(claim.get("secondary_dx") or ())
        procedures = tuple(claim.get("procedures") or ())
        principal = claim["principal_dx"]
        complications = self.codes.complications(principal, secondary)
        mcc_life = self.count_listed("mcc_evidence_life_support", complications.mcc)
        mcc_lab = self.count_listed("mcc_evidence_lab", complications.mcc)
        self_expense = float(claim.get("self_expense") or 0)
        lab = float(claim.get("fee_lab") or 0) + float(claim.get("fee_exam") or 0)
        admit, discharge = claim["admit_date"], claim["discharge_date"]
        designated = hospital.get("designated_on") if hospital else None
        coaching_until = hospital.get("coaching_until") if hospital else None
        coach = params.get("COACH-001")
        coaching_end = add_months(designated, int(coach["coaching_months"])) if designated and coach else None
        dept = claim.get("dept_code")
        dx = (principal, *secondary)
        return {
            "kind": "claim", "t": True, "target": target, "seq": seq, "claim_id": claim["claim_id"],
            "patient_id": claim["patient_id"], "region": region, "hospital_id": claim["hospital_id"],
            "admit": admit.toordinal(), "discharge": discharge.toordinal(), "los": max(1, (discharge - admit).days),
            "dx3": principal[:3], "scheme": scheme, "dd": dd, "drg": scheme == "DRG", "per_diem": scheme == "PER_DIEM",
            "gender": claim["gender"], "age": claim["age"], "has_age_days": claim.get("age_days") is not None,
            "age_days": claim.get("age_days") or 0, "has_birth_weight": claim.get("newborn_weight_g") is not None,
            "has_adrg": in_group, "adrg": code[:3] if in_group else "",
            "severity": code[-1] if in_group and code[-1].isdigit() else "",
            "surgical": in_group and scheme == "DRG" and code[1:2].upper() in SURGICAL,
            # UPC-003's exemption: the tumour-therapy ADRGs group by diagnosis (lists/tumour_therapy_adrg).
            "therapy_adrg": in_group and self.listed("tumour_therapy_adrg", code[:3]),
            "ungroupable": ungroupable, "group_known": group is not None, "weight": weight,
            "has_ratio": ratio is not None, "ratio": ratio or 0.0, "payment_kind": kind,
            "high_limit": high, "low_limit": low, "extreme_limit": extreme,
            "mcc": len(complications.mcc), "ccmcc": len(complications.mcc) + len(complications.cc),
            "mcc_life": mcc_life, "mcc_lab": mcc_lab, "mcc_evidence": mcc_life + mcc_lab,
            "support": self.any_listed("mcc_support_procedures", procedures),
            "new_technology": self.any_listed("new_technologies", procedures),
            "icu_hours": float(claim.get("icu_hours") or 0), "ventilator_hours": float(claim.get("ventilator_hours") or 0),
            "fee_lab": float(claim.get("fee_lab") or 0),
            "discharge_mode": claim["discharge_mode"], "emergency": claim.get("admission_route") == "1",
            "has_self_share": total > 0, "self_share": (self_expense + outside) / total if total > 0 else 0.0,
            "outside_purchase": outside, "procedures": len(procedures),
            "has_lab_share": total > 0, "lab_share": lab / total if total > 0 else 0.0,
            # GHOST-001: the case's cost (outside purchases counted) besides bed and nursing fees, a day.
            "care_daily": (round(total + outside, 2) - float(claim.get("fee_bed") or 0)
                           - float(claim.get("fee_nursing") or 0)) / max(1, (discharge - admit).days),
            "periodic": self.listed("chemo_radiotherapy", principal) or self.listed("dialysis", principal),
            "plan2": claim.get("readmit_plan_31d") == "2", "cross": cross, "nonlocal_claim": insured != region,
            "has_designation": designated is not None, "designated": designated.toordinal() if designated else 0,
            "coaching_end": coaching_end.toordinal() if coaching_end else 0,
            "has_coaching_until": coaching_until is not None,
            "coaching_until": coaching_until.toordinal() if coaching_until else 0,
            "regional_center": bool(hospital and hospital.get("regional_center")),
            "has_level": level is not None, "level": level or 0,
            # The level, or what makes `hospital.level < earlier.hospital.level` false when it is unknown.
            "level_or_high": level if level is not None else 99, "level_or_low": level if level is not None else 0,
            "ranked": ranked, "cc_mcc_rank": rank if ranked else 0.0, "cc_mcc_excess": excess if ranked else 0.0,
            "unknown": len(self.codes.unknown_codes(list(dx), list(procedures))),
            "has_dept": dept is not None, "dept": dept or "",
            "psychiatric": self.listed("psychiatric_departments", dept),
            "rehabilitation_dept": self.listed("rehabilitation_departments", dept),
            "hospice": self.listed("hospice_departments", dept),
            "rehabilitation_dx": self.listed("rehabilitation", principal),
            "female_dx": self.any_listed("female_only_dx", dx), "male_dx": self.any_listed("male_only_dx", dx),
            "perinatal": self.listed("perinatal_dx", principal), "pregnancy": self.any_listed("pregnancy_dx", dx),
            "fee_total": round(sum(float(claim.get(k) or 0) for k in FEE_FIELDS), 2), "total_cost": total,
            "paid": float(claim.get("fund_paid") or 0) + float(claim.get("self_pay") or 0) + self_expense,
            "hospital_known": hospital is not None,
            "hospital_region": (hospital.get("region") or "") if hospital else "",
        }  # fmt: skip


def ratio_limits(settings: dict[str, Any], scheme: str, weight: float | None) -> tuple[float, float, float]:
    """The region's (high, low, extreme) cost-ratio limits of a scheme; DRG's high one may be tiered by weight."""
    if scheme == "DIP":
        return (
            float(settings["dip_high_ratio"]),
            float(settings["dip_low_ratio"]),
            float(settings["dip_extreme_ratio"]),
        )
    high = settings["drg_high_ratio"]
    if isinstance(high, list):
        tiers = high
        high = tiers[-1]["ratio"]
        for tier in tiers:
            if tier["weight_up_to"] is None or (weight is not None and weight <= tier["weight_up_to"]):
                high = tier["ratio"]
                break
    return float(high), float(settings["drg_low_ratio"]), float(settings["drg_extreme_ratio"])


def pay_kind(
    settings: dict[str, Any],
    scheme: str,
    code: str,
    ratio: float,
    level: int | None,
    cross_province: bool,
    high: float,
    low: float,
    extreme: float,
) -> str:
    """How the region pays a claim of a known group: by items (cross-province), by the group standard, or as
    a high/low/extreme case; "unknown" when there is no standard to pay from (no level coefficient)."""
    if cross_province and settings["cross_province_payment"] == "fee_for_service":
        return "fee_for_service"
    basic = code in (settings.get("basic_disease_groups") or {}).get(scheme, ())
    if not basic and (level is None or settings["level_coefficients"].get(level) is None):
        return "unknown"
    if ratio >= high:
        return "extreme" if ratio > extreme else "high_ratio"
    if ratio <= low:
        return "low_ratio"
    return "standard"


class BareRules(Facts):
    """Hand-written durable-rules rulesets, one per rule profile of the pack (national and each region
    with settings or overrides of its own)."""

    def __init__(
        self,
        pack: RulePack,
        hospitals: dict[str, dict],
        groups: dict[tuple[str, str, str], dict],
        codes: CodeTables,
        indicators: dict[str, dict[str, Any]],
    ) -> None:
        super().__init__(pack, hospitals, groups, codes, indicators)
        self.hits: list[tuple[str, str]] = []
        self.defined: set[str] = set()
        self.names = {key: self._define(self.params(key)) for key in pack.profile_keys()}
        self.host = get_host()  # registers the rulesets defined above

    def _define(self, params: dict[str, dict[str, Any]]) -> str:
        name = f"bare_{next(_names)}"
        hits = self.hits
        effective = self.effective

        def rule(rule_id: str, *conditions: Any) -> None:
            """One durable-rules rule for `rule_id` if the profile has it (several for an `or` of two claims)."""
            if rule_id not in params:
                return
            self.defined.add(rule_id)

            def action(closure: Any) -> None:
                hits.append((rule_id, closure.m.claim_id))

            when_all(*conditions)(action)

        def target(rule_id: str) -> Any:
            start, end = effective.get(rule_id, (0, NONE))
            return (m.kind == "claim") & (m.target == True) & (m.discharge >= start) & (m.discharge <= end)

        def dd(rule_id: str) -> Any:
            return target(rule_id) & (m.dd == True)

        def drg(rule_id: str) -> Any:
            return target(rule_id) & (m.drg == True)

        def per_diem(rule_id: str) -> Any:
            return target(rule_id) & (m.per_diem == True)

        def p(rule_id: str, key: str) -> Any:
            return params.get(rule_id, {}).get(key)

        def pair(earlier: Any, current: Any) -> tuple[Any, Any]:
            # The tests that read the earlier claim first, then `t`, then the current claim (see the docstring).
            return c.earlier << ((m.kind == "claim") & earlier), c.m << current

        with ruleset(name):
            # -- pair rules --------------------------------------------------------------------------------
            window = p("SPLIT-001", "window_days")
            for same in ("dx3", "adrg"):
                earlier = m.plan2 == False
                if same == "adrg":
                    earlier = earlier & (m.has_adrg == True)
                current = (
                    (m.seq > c.earlier.seq)
                    & (m.hospital_id == c.earlier.hospital_id)
                    & (m.admit >= c.earlier.discharge)
                    & (m.admit <= c.earlier.discharge + (window or 0))
                    & (getattr(m, same) == getattr(c.earlier, same))
                    & (m.t == c.earlier.t)
                    & dd("SPLIT-001")
                    & (m.periodic == False)
                )
                if same == "adrg":
                    current = current & (m.has_adrg == True)
                rule("SPLIT-001", *pair(earlier, current))

            # SPLIT-003: same category or core group x (same level, or back to the hospital that transferred
            # the patient out); a rehabilitation step down (lower level) is exempt.
            window = p("SPLIT-003", "window_days") or 0
            for same in ("dx3", "adrg"):
                for how in ("level", "back", "back-rehab"):
                    earlier = (m.discharge_mode == "2") & (m.t == True)
                    if same == "adrg":
                        earlier = earlier & (m.has_adrg == True)
                    if how == "level":
                        earlier = earlier & (m.has_level == True)
                    else:
                        earlier = earlier & (m.days_since_prev <= window)
                    current = (
                        (m.seq > c.earlier.seq)
                        & (m.hospital_id != c.earlier.hospital_id)
                        & (m.admit >= c.earlier.discharge)
                        & (m.admit <= c.earlier.discharge + window)
                        & (getattr(m, same) == getattr(c.earlier, same))
                    )
                    if how == "level":
                        current = current & (m.level == c.earlier.level)
                    else:
                        current = current & (m.hospital_id == c.earlier.prev_hospital_id)
                    if how == "back-rehab":
                        current = current & (m.level_or_high >= c.earlier.level_or_low)
                    current = current & (m.t == c.earlier.t) & dd("SPLIT-003") & (m.periodic == False)
                    if same == "adrg":
                        current = current & (m.has_adrg == True)
                    if how == "level":
                        current = current & (m.has_level == True)
                    elif how == "back":
                        current = current & (m.rehabilitation_dx == False) & (m.rehabilitation_dept == False)
                    else:
                        current = current & ((m.rehabilitation_dx == True) | (m.rehabilitation_dept == True))
                    rule("SPLIT-003", *pair(earlier, current))

            rule(
                "SPLIT-002",
                *pair(
                    m.plan2 == False,
                    (m.seq > c.earlier.seq)
                    & (m.hospital_id == c.earlier.hospital_id)
                    & (m.admit == c.earlier.discharge)
                    & (m.t == c.earlier.t)
                    & dd("SPLIT-002")
                    & (m.periodic == False),
                ),
            )
            window = p("SPLIT-004", "window_days") or 0
            for same in ("dept", "dx3"):
                earlier = (m.per_diem == True) & (m.plan2 == False)
                if same == "dept":
                    earlier = earlier & (m.has_dept == True)
                current = (
                    (m.seq > c.earlier.seq)
                    & (m.hospital_id == c.earlier.hospital_id)
                    & (m.admit >= c.earlier.discharge)
                    & (m.admit <= c.earlier.discharge + window)
                    & (getattr(m, same) == getattr(c.earlier, same))
                    & (m.t == c.earlier.t)
                    & per_diem("SPLIT-004")
                )
                if same == "dept":
                    current = current & (m.has_dept == True)
                rule("SPLIT-004", *pair(earlier, current))
            rule(
                "DQ-004",
                *pair(
                    m.t == True,
                    (m.seq > c.earlier.seq)
                    & (m.admit < c.earlier.discharge)
                    & (m.t == c.earlier.t)
                    & target("DQ-004"),
                ),
            )
            rule(
                "DQ-013",
                *pair(
                    m.discharge_mode == "5",
                    (m.seq > c.earlier.seq)
                    & (m.admit >= c.earlier.discharge)
                    & (m.t == c.earlier.t)
                    & target("DQ-013"),
                ),
            )

            # -- one-claim rules ---------------------------------------------------------------------------
            rule(
                "UPC-001",
                drg("UPC-001")
                & (m.severity == "1")
                & (m.mcc >= 1)
                & (m.mcc_evidence == m.mcc)
                & (
                    (m.mcc_life == 0)
                    | ((m.icu_hours <= 0) & (m.ventilator_hours <= 0) & (m.support == False))
                )
                & ((m.mcc_lab == 0) | (m.fee_lab < p("UPC-001", "min_lab_fee")))
                & (
                    (m.los <= p("UPC-001", "max_los_days"))
                    | ((m.has_ratio == True) & (m.ratio <= p("UPC-001", "max_cost_ratio")))
                )
                & (m.discharge_mode != "5"),
            )
            rule(
                "UPC-002",
                drg("UPC-002")
                & (((m.severity == "1") & (m.mcc == 0)) | ((m.severity == "3") & (m.ccmcc == 0))),
            )
            rule(
                "UPC-003",
                drg("UPC-003") & (m.surgical == True) & (m.procedures == 0) & (m.therapy_adrg == False),
            )
            rule(
                "UPC-004",
                drg("UPC-004")
                & (m.cross == True)
                & ((m.severity == "1") | (m.severity == "3"))
                & (m.ranked == True)
                & (m.cc_mcc_rank >= p("UPC-004", "peer_percentile"))
                & (m.cc_mcc_excess >= p("UPC-004", "min_excess")),
            )
            rule(
                "OUT-HIGH-001",
                dd("OUT-HIGH-001")
                & (m.has_ratio == True)
                & (m.ratio >= m.high_limit)
                & (m.payment_kind == "high_ratio"),
            )
            rule(
                "OUT-EXT-001",
                dd("OUT-EXT-001")
                & (m.has_ratio == True)
                & (m.ratio > m.extreme_limit)
                & (m.payment_kind == "extreme"),
            )
            rule(
                "OUT-LOW-001",
                dd("OUT-LOW-001")
                & (m.has_ratio == True)
                & (m.ratio <= m.low_limit)
                & (m.payment_kind == "low_ratio")
                & (m.discharge_mode != "2")
                & (m.discharge_mode != "3")
                & (m.discharge_mode != "4")
                & (m.discharge_mode != "5"),
            )
            rule("OUT-UNG-001", dd("OUT-UNG-001") & (m.ungroupable == True))
            rule(
                "OUT-DEATH-001",
                dd("OUT-DEATH-001")
                & (m.discharge_mode == "5")
                & ((m.icu_hours > 0) | (m.procedures > 0))
                & (m.has_ratio == True)
                & (m.ratio >= p("OUT-DEATH-001", "min_ratio")),
            )
            rule("OUT-ICU-001", dd("OUT-ICU-001") & (m.icu_hours >= p("OUT-ICU-001", "min_icu_hours")))
            rule("OUT-NEW-001", dd("OUT-NEW-001") & (m.new_technology == True))
            rule("LOS-001", dd("LOS-001") & (m.los >= p("LOS-001", "max_los_days")))
            rule(
                "LOS-002",
                per_diem("LOS-002") & (m.psychiatric == True) & (m.los >= p("LOS-002", "max_los_days")),
            )
            rule(
                "LOS-003",
                per_diem("LOS-003")
                & (m.rehabilitation_dept == True)
                & (m.los >= p("LOS-003", "max_los_days")),
            )
            rule(
                "LOS-004", per_diem("LOS-004") & (m.hospice == True) & (m.los >= p("LOS-004", "max_los_days"))
            )
            rule(
                "LOS-005",
                per_diem("LOS-005")
                & (m.los >= p("LOS-005", "max_los_days"))
                & (m.psychiatric == False)
                & (m.rehabilitation_dept == False)
                & (m.hospice == False),
            )
            rule(
                "COST-001",
                dd("COST-001")
                & (m.has_self_share == True)
                & (m.self_share >= p("COST-001", "max_self_share")),
            )
            rule("COST-002", dd("COST-002") & (m.outside_purchase > p("COST-002", "min_amount")))
            rule(
                "LOWADM-001",
                dd("LOWADM-001")
                & (m.los <= p("LOWADM-001", "max_los_days"))
                & (m.procedures == 0)
                & (m.has_lab_share == True)
                & (m.lab_share >= p("LOWADM-001", "min_lab_exam_share"))
                & (m.discharge_mode == "1")
                & (m.emergency == False),
            )
            rule(
                "GHOST-001",
                target("GHOST-001")
                & ((m.dd == True) | (m.per_diem == True))
                & (m.los >= p("GHOST-001", "min_los_days"))
                & (m.care_daily <= p("GHOST-001", "max_daily_care_cost"))
                & (m.discharge_mode != "5")
                & (m.hospice == False),
            )
            for rule_id, check in (("FREQ-001", dd), ("FREQ-002", dd), ("FREQ-003", per_diem)):
                condition = check(rule_id) & (
                    getattr(m, episodes_field(rule_id)) >= p(rule_id, "max_admissions")
                )
                if rule_id != "FREQ-003":
                    condition = condition & (m.periodic == False)
                rule(rule_id, condition)
            coach = target("COACH-001") & (m.nonlocal_claim == True) & (m.has_designation == True)
            coach = coach & (m.discharge >= m.designated) & (m.regional_center == False)
            rule("COACH-001", coach & (m.discharge < m.coaching_end))
            rule("COACH-001", coach & (m.has_coaching_until == True) & (m.discharge <= m.coaching_until))
            rule(
                "SEV-001",
                drg("SEV-001")
                & ((m.severity == "1") | ((m.group_known == True) & (m.weight >= p("SEV-001", "min_weight"))))
                & (m.los <= p("SEV-001", "max_los_days"))
                & (
                    (m.discharge_mode == "4")
                    | (
                        (m.discharge_mode == "2")
                        & (m.has_level == True)
                        & (m.level >= p("SEV-001", "transfer_level"))
                    )
                ),
            )
            rule("DQ-001", target("DQ-001") & (m.unknown > 0))
            rule("DQ-003", dd("DQ-003") & (m.group_known == False) & (m.ungroupable == False))
            rule("DQ-005", target("DQ-005") & (m.icu_hours > m.los * 24))
            rule(
                "DQ-006",
                target("DQ-006")
                & (m.age == 0)
                & (m.has_age_days == True)
                & (m.age_days <= p("DQ-006", "max_age_days"))
                & (m.has_birth_weight == False),
            )
            rule(
                "DQ-007",
                target("DQ-007")
                & (((m.gender == "1") & (m.female_dx == True)) | ((m.gender == "2") & (m.male_dx == True))),
            )
            rule("DQ-008", target("DQ-008") & (m.perinatal == True) & (m.age > p("DQ-008", "max_age")))
            rule(
                "DQ-009",
                target("DQ-009")
                & (m.pregnancy == True)
                & ((m.age < p("DQ-009", "min_age")) | (m.age > p("DQ-009", "max_age"))),
            )
            # round(|fee_total - total_cost|, 2) > d: durable-rules has no abs() or round(), so the difference
            # is tested on both sides, half a cent past the limit (amounts are in cents).
            limit = p("DQ-010", "max_difference")
            if limit is not None:
                rule(
                    "DQ-010",
                    target("DQ-010")
                    & (m.fee_total > 0)
                    & (
                        (m.fee_total > m.total_cost + (limit + 0.005))
                        | (m.total_cost > m.fee_total + (limit + 0.005))
                    ),
                )
            limit = p("DQ-011", "max_difference")
            if limit is not None:
                rule("DQ-011", target("DQ-011") & (m.paid > m.total_cost + (limit + 0.005)))
            rule("DQ-012", target("DQ-012") & (m.ventilator_hours > m.los * 24))
            rule(
                "DQ-014",
                target("DQ-014")
                & (m.hospital_known == True)
                & (m.hospital_region != "")
                & (m.region != m.hospital_region),
            )
            rule("DQ-015", target("DQ-015") & (m.age == 0) & (m.has_age_days == False))
            when_all((m.kind == "close") & (m.t == True))(lambda closure: None)
        return name

    def screen_patient(self, patient_id: str, batch: list[dict], history: Iterable[dict] = ()) -> None:
        """Assert a patient's claims into the ruleset of each treatment region it has, collecting hits."""
        claims = {c_["claim_id"]: c_ for c_ in history}
        claims.update({c_["claim_id"]: c_ for c_ in batch})
        facts = self.patient(claims.values(), {c_["claim_id"] for c_ in batch})
        regions = sorted({c_["treatment_region"] for c_ in batch})
        for region in regions:
            name = self.names[self.pack.profile_key(region)]
            sid = f"{patient_id}"
            for fact in facts:
                fact = dict(fact, sid=sid, target=fact["target"] and fact["region"] == region)
                try:
                    self.host.assert_fact(name, fact)
                except durable_engine.MessageNotHandledException:
                    pass
            self.host.assert_fact(name, {"kind": "close", "t": True, "claim_id": "_close", "sid": sid})
            self.host.delete_state(name, sid)
