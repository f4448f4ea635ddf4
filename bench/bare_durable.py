# ruff: noqa: E712  (durable-rules overloads ==: `m.x == True` builds a test, `m.x` would not)
"""The baseline of bench/screen.py: the bundled rules written by hand in durable-rules' own Python DSL.

No drgaudit engine code runs here (no YAML, compiler, synthetic fields, evidence or messages): facts are
prepared by hand for exactly what these rules read, the rules are `when_all` decorators, and claims go
through durable-rules' documented host API (`assert_fact`, `delete_state`). The payment kind (standard,
high/low ratio, extreme) is worked out by hand from the treatment region's settings, given as plain
numbers; the hospital indicators UPC-004 reads are given, worked out over the screened claims as the
pipeline does over a batch. It keeps the two workarounds without which durable-rules 2.0.28 gives wrong
answers or crashes (see drgaudit.engine.runtime): a closing fact per patient before `delete_state`, and
in the pair rules the tests that read the earlier claim first, ended by an always-true one. It only
records (rule, claim) pairs.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Any

from durable import engine as durable_engine
from durable.lang import c, get_host, m, ruleset, when_all

from drgaudit.engine.codes import CodeTables

CYCLIC = ("Z51.0", "Z51.1", "Z51.8", "Z49")  # chemo/radiotherapy and dialysis principal diagnoses
LIFE_SUPPORT_MCC = ("J96", "J80", "R57", "R65")
LAB_MCC = ("A41", "N17")
SUPPORT_PROCEDURES = ("96.7", "96.04", "39.95", "31.1", "00.17")
NEW_TECHNOLOGIES = ("17.41", "17.42", "17.43", "17.44", "17.45", "17.49", "35.05")
SURGICAL = frozenset("ABCDEFGHIJ")  # second letter of a surgical DRG core group
START_2025 = dt.date(2025, 1, 1).toordinal()
COACH_FROM = dt.date(2025, 5, 28).toordinal()
_names = itertools.count()


class BareRules:
    """Hand-written durable-rules rulesets for the national profile and the three demo regions."""

    def __init__(
        self,
        hospitals: dict[str, dict],
        groups: dict[tuple[str, str, str], dict],
        codes: CodeTables,
        settings: dict[str, dict[str, Any]],
        indicators: dict[str, dict[str, Any]],
    ) -> None:
        self.hospitals = hospitals
        self.groups = groups
        self.codes = codes
        self.settings = settings  # "national" and each region with a file -> its merged settings
        self.indicators = indicators
        self.hits: list[tuple[str, str]] = []
        self.names = {
            "national": self._define(max_self_share=0.3, cost_002=True),
            "510100": self._define(max_self_share=0.3, cost_002=True),
            "510700": self._define(max_self_share=0.25, cost_002=True),
            "511300": self._define(max_self_share=0.3, cost_002=False),
        }
        self.host = get_host()  # registers the rulesets defined above

    def _define(self, *, max_self_share: float, cost_002: bool) -> str:
        name = f"bare_{next(_names)}"
        hits = self.hits

        def record(rule_id: str):
            def action(closure) -> None:
                hits.append((rule_id, closure.m.claim_id))

            return action

        target = (m.kind == "claim") & (m.target == True) & (m.discharge >= START_2025)
        grouped = target & (m.grouped == True)
        drg = grouped & (m.drg == True)
        with ruleset(name):
            # Pair rules: one durable-rules rule per alternative over the earlier claim (same category or
            # same core group), the tests reading the earlier claim first, then `t`, then the current claim.
            for same in ("dx3", "adrg"):
                earlier = (m.kind == "claim") & (m.plan2 == False)
                if same == "adrg":
                    earlier = earlier & (m.has_adrg == True)
                current = (
                    (m.seq > c.earlier.seq)
                    & (m.hospital_id == c.earlier.hospital_id)
                    & (m.admit >= c.earlier.discharge)
                    & (m.admit <= c.earlier.discharge + 15)
                    & (getattr(m, same) == getattr(c.earlier, same))
                    & (m.t == c.earlier.t)
                    & grouped
                    & (m.cyclic == False)
                )
                if same == "adrg":
                    current = current & (m.has_adrg == True)
                when_all(c.earlier << earlier, c.m << current)(record("SPLIT-001"))

                earlier = (m.kind == "claim") & (m.discharge_mode == "2") & (m.has_level == True)
                if same == "adrg":
                    earlier = earlier & (m.has_adrg == True)
                current = (
                    (m.seq > c.earlier.seq)
                    & (m.hospital_id != c.earlier.hospital_id)
                    & (m.admit >= c.earlier.discharge)
                    & (m.admit <= c.earlier.discharge + 1)
                    & (getattr(m, same) == getattr(c.earlier, same))
                    & (m.level <= c.earlier.level)
                    & (m.t == c.earlier.t)
                    & grouped
                    & (m.has_level == True)
                    & (m.cyclic == False)
                )
                if same == "adrg":
                    current = current & (m.has_adrg == True)
                when_all(c.earlier << earlier, c.m << current)(record("SPLIT-003"))
            when_all(
                c.earlier << ((m.kind == "claim") & (m.plan2 == False)),
                c.m << (m.seq > c.earlier.seq)
                & (m.hospital_id == c.earlier.hospital_id)
                & (m.admit == c.earlier.discharge)
                & (m.t == c.earlier.t)
                & grouped
                & (m.cyclic == False),
            )(record("SPLIT-002"))
            when_all(
                c.earlier << (m.kind == "claim"),
                c.m << (m.seq > c.earlier.seq)
                & (m.admit < c.earlier.discharge)
                & (m.t == c.earlier.t)
                & target,
            )(record("DQ-004"))
            when_all(
                drg
                & (m.severity == "1")
                & (m.mcc >= 1)
                & (m.mcc_evidence == m.mcc)
                & (
                    (m.mcc_life == 0)
                    | ((m.icu_hours <= 0) & (m.ventilator_hours <= 0) & (m.support == False))
                )
                & ((m.mcc_lab == 0) | (m.fee_lab < 300))
                & ((m.los <= 5) | ((m.has_ratio == True) & (m.ratio <= 0.6)))
                & (m.discharge_mode != "5")
            )(record("UPC-001"))
            when_all(drg & (((m.severity == "1") & (m.mcc == 0)) | ((m.severity == "3") & (m.ccmcc == 0))))(
                record("UPC-002")
            )
            when_all(drg & (m.surgical == True) & (m.procedures == 0))(record("UPC-003"))
            when_all(
                drg
                & (m.cross == True)
                & ((m.severity == "1") | (m.severity == "3"))
                & (m.ranked == True)
                & (m.cc_mcc_rank >= 80)
                & (m.cc_mcc_excess >= 0.2)
            )(record("UPC-004"))
            when_all(
                grouped & (m.has_ratio == True) & (m.ratio >= m.high_limit) & (m.payment_kind == "high_ratio")
            )(record("OUT-HIGH-001"))
            when_all(
                grouped & (m.has_ratio == True) & (m.ratio > m.extreme_limit) & (m.payment_kind == "extreme")
            )(record("OUT-EXT-001"))
            when_all(
                grouped
                & (m.has_ratio == True)
                & (m.ratio <= m.low_limit)
                & (m.payment_kind == "low_ratio")
                & (m.discharge_mode != "2")
                & (m.discharge_mode != "3")
                & (m.discharge_mode != "4")
                & (m.discharge_mode != "5")
            )(record("OUT-LOW-001"))
            when_all(grouped & (m.ungroupable == True))(record("OUT-UNG-001"))
            when_all(
                grouped
                & (m.discharge_mode == "5")
                & ((m.icu_hours > 0) | (m.procedures > 0))
                & (m.has_ratio == True)
                & (m.ratio >= 2.0)
            )(record("OUT-DEATH-001"))
            when_all(grouped & (m.icu_hours >= 168))(record("OUT-ICU-001"))
            when_all(grouped & (m.new_technology == True))(record("OUT-NEW-001"))
            when_all(grouped & (m.los >= 60))(record("LOS-001"))
            when_all(grouped & (m.has_self_share == True) & (m.self_share >= max_self_share))(
                record("COST-001")
            )
            if cost_002:
                when_all(grouped & (m.outside_purchase > 0))(record("COST-002"))
            when_all(
                grouped
                & (m.los <= 2)
                & (m.procedures == 0)
                & (m.has_lab_share == True)
                & (m.lab_share >= 0.6)
                & (m.discharge_mode == "1")
                & (m.emergency == False)
            )(record("LOWADM-001"))
            when_all(grouped & (m.admissions_365 >= 6) & (m.cyclic == False))(record("FREQ-001"))
            when_all(grouped & (m.admissions_90 >= 4) & (m.cyclic == False))(record("FREQ-002"))
            when_all(
                target
                & (m.discharge >= COACH_FROM)
                & (m.cross == True)
                & (m.has_designation == True)
                & (m.days_designated >= 0)
                & (m.days_designated < 183)
                & (m.regional_center == False)
            )(record("COACH-001"))
            when_all(target & (m.unknown > 0))(record("DQ-001"))
            when_all(grouped & (m.group_known == False) & (m.ungroupable == False))(record("DQ-003"))
            when_all(target & (m.icu_hours > m.los * 24))(record("DQ-005"))
            when_all(
                target
                & (m.age == 0)
                & (m.has_age_days == True)
                & (m.age_days <= 28)
                & (m.has_birth_weight == False)
            )(record("DQ-006"))
            when_all((m.kind == "close") & (m.t == True))(lambda closure: None)
        return name

    def payment_kind(self, settings: dict[str, Any], scheme: str, ratio: float, level: int | None) -> str:
        """How the region pays a claim of a known group: by the group standard, or as a high/low/extreme case."""
        rate = settings.get("drg_rate" if scheme == "DRG" else "dip_point_value")
        coefficient = settings["level_coefficients"].get(level) if level is not None else None
        if rate is None or coefficient is None:
            return "unknown"  # no group standard to pay from
        prefix = "drg" if scheme == "DRG" else "dip"
        if ratio >= float(settings[f"{prefix}_high_ratio"]):
            return "extreme" if ratio > float(settings[f"{prefix}_extreme_ratio"]) else "high_ratio"
        if ratio <= float(settings[f"{prefix}_low_ratio"]):
            return "low_ratio"
        return "standard"

    def fact(
        self, claim: dict[str, Any], seq: int, admissions: tuple[int, int], target: bool
    ) -> dict[str, Any]:
        """The fields these rules read, computed by hand."""
        region = claim["treatment_region"]
        settings = self.settings.get(region, self.settings["national"])
        scheme = claim["payment_scheme"]
        code = claim.get("group_code") or ""
        grouped = scheme in ("DRG", "DIP")
        ungroupable = grouped and (code == "0000" or code.upper().endswith("QY"))
        in_group = grouped and bool(code) and not ungroupable
        group = self.groups.get((region, scheme, code)) if in_group else None
        hospital = self.hospitals.get(claim["hospital_id"])
        level = int(hospital["level"]) if hospital and hospital.get("level") is not None else None
        indicators = self.indicators.get(claim["hospital_id"], {})
        rank = indicators.get("hospital__cross_cc_mcc_share_rank")
        excess = indicators.get("hospital__cc_mcc_share_excess")
        ranked = rank is not None and excess is not None
        total = float(claim["total_cost"])
        avg_cost = float(group["avg_cost"]) if group else 0.0
        ratio = total / avg_cost if avg_cost > 0 else None
        prefix = "drg" if scheme == "DRG" else "dip"
        secondary = tuple(claim.get("secondary_dx") or ())
        procedures = claim.get("procedures") or []
        complications = self.codes.complications(claim["principal_dx"], secondary)
        mcc_life = sum(1 for x in complications.mcc if x.startswith(LIFE_SUPPORT_MCC))
        mcc_lab = sum(1 for x in complications.mcc if x.startswith(LAB_MCC))
        self_expense = float(claim.get("self_expense") or 0)
        outside = float(claim.get("outside_purchase") or 0)
        lab = float(claim.get("fee_lab") or 0) + float(claim.get("fee_exam") or 0)
        admit, discharge = claim["admit_date"], claim["discharge_date"]
        designated = hospital.get("designated_on") if hospital else None
        principal = claim["principal_dx"]
        return {
            "kind": "claim", "t": True, "target": target, "seq": seq, "claim_id": claim["claim_id"],
            "hospital_id": claim["hospital_id"], "admit": admit.toordinal(), "discharge": discharge.toordinal(),
            "los": max(1, (discharge - admit).days), "dx3": principal[:3], "grouped": grouped, "drg": scheme == "DRG",
            "age": claim["age"], "has_age_days": claim.get("age_days") is not None, "age_days": claim.get("age_days") or 0,
            "has_birth_weight": claim.get("newborn_weight_g") is not None,
            "has_adrg": in_group, "adrg": code[:3] if in_group else "",
            "severity": code[-1] if in_group and code[-1].isdigit() else "",
            "surgical": in_group and scheme == "DRG" and code[1:2].upper() in SURGICAL,
            "ungroupable": ungroupable, "group_known": group is not None,
            "has_ratio": ratio is not None, "ratio": ratio or 0.0,
            "payment_kind": self.payment_kind(settings, scheme, ratio, level) if ratio is not None else "unknown",
            "high_limit": float(settings[f"{prefix}_high_ratio"]) if in_group else 0.0,
            "low_limit": float(settings[f"{prefix}_low_ratio"]) if in_group else 0.0,
            "extreme_limit": float(settings[f"{prefix}_extreme_ratio"]) if in_group else 0.0,
            "mcc": len(complications.mcc), "ccmcc": len(complications.mcc) + len(complications.cc),
            "mcc_life": mcc_life, "mcc_lab": mcc_lab, "mcc_evidence": mcc_life + mcc_lab,
            "support": any(p.startswith(SUPPORT_PROCEDURES) for p in procedures),
            "new_technology": any(p.startswith(NEW_TECHNOLOGIES) for p in procedures),
            "icu_hours": float(claim.get("icu_hours") or 0), "ventilator_hours": float(claim.get("ventilator_hours") or 0),
            "fee_lab": float(claim.get("fee_lab") or 0),
            "discharge_mode": claim["discharge_mode"], "emergency": claim.get("admission_route") == "1",
            "has_self_share": total > 0, "self_share": (self_expense + outside) / total if total > 0 else 0.0,
            "outside_purchase": outside, "procedures": len(procedures),
            "has_lab_share": total > 0, "lab_share": lab / total if total > 0 else 0.0,
            "admissions_365": admissions[0], "admissions_90": admissions[1],
            "cyclic": principal.startswith(CYCLIC), "plan2": claim.get("readmit_plan_31d") == "2",
            "cross": claim["insured_region"] != region, "has_designation": designated is not None,
            "days_designated": (admit - designated).days if designated else 0,
            "regional_center": bool(hospital and hospital.get("regional_center")),
            "has_level": level is not None, "level": level or 0,
            "cross_drg_cases": indicators.get("hospital__cross_drg_cases", 0), "ranked": ranked,
            "cc_mcc_rank": rank if ranked else 0.0, "cc_mcc_excess": excess if ranked else 0.0,
            "unknown": len(self.codes.unknown_codes([principal, *secondary], list(procedures))),
        }  # fmt: skip

    def screen_patient(self, patient_id: str, batch: list[dict], history: Iterable[dict] = ()) -> None:
        """Assert a patient's claims into the ruleset of each treatment region it has, collecting hits."""
        claims = {c_["claim_id"]: c_ for c_ in history}
        claims.update({c_["claim_id"]: c_ for c_ in batch})
        ordered = sorted(claims.values(), key=lambda x: (x["admit_date"], x["discharge_date"], x["claim_id"]))
        targets = {c_["claim_id"] for c_ in batch}
        regions = sorted({c_["treatment_region"] for c_ in batch})
        admissions = []
        for i, claim in enumerate(ordered):
            admit = claim["admit_date"]
            days = [(admit - other["admit_date"]).days for other in ordered[: i + 1]]
            admissions.append((sum(1 for d in days if 0 <= d < 365), sum(1 for d in days if 0 <= d < 90)))
        for region in regions:
            name = self.names.get(region, self.names["national"])
            sid = f"{patient_id}"
            for seq, claim in enumerate(ordered):
                target = claim["claim_id"] in targets and claim["treatment_region"] == region
                try:
                    self.host.assert_fact(name, dict(self.fact(claim, seq, admissions[seq], target), sid=sid))
                except durable_engine.MessageNotHandledException:
                    pass
            self.host.assert_fact(name, {"kind": "close", "t": True, "claim_id": "_close", "sid": sid})
            self.host.delete_state(name, sid)
