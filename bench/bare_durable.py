# ruff: noqa: E712  (durable-rules overloads ==: `m.x == True` builds a test, `m.x` would not)
"""The baseline of bench/screen.py: the bundled rules written by hand in durable-rules' own Python DSL.

No drgaudit engine code runs here (no YAML, compiler, synthetic fields, evidence or messages): facts are
prepared by hand for exactly what these rules read, the rules are `when_all` decorators, and claims go
through durable-rules' documented host API (`assert_fact`, `delete_state`). It keeps the two workarounds
without which durable-rules 2.0.28 gives wrong answers or crashes (see drgaudit.engine.runtime): a
closing fact per patient before `delete_state`, and in the pair rule the tests that read the earlier
claim first, ended by an always-true one. It only records (rule, claim) pairs.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Any

from durable import engine as durable_engine
from durable.lang import c, get_host, m, ruleset, when_all

from drgaudit.engine.codes import CodeTables

CHEMO = ("Z51.0", "Z51.1", "Z51.8")
MCC_EVIDENCE = ("J96", "J80", "A41", "R57", "N17", "R65")
SUPPORT_PROCEDURES = ("96.7", "96.04", "39.95", "31.1", "00.17")
START_2025 = dt.date(2025, 1, 1).toordinal()
COACH_FROM = dt.date(2025, 5, 28).toordinal()
_names = itertools.count()


class BareRules:
    """Hand-written durable-rules rulesets for the national profile and the three demo regions."""

    def __init__(
        self, hospitals: dict[str, dict], groups: dict[tuple[str, str, str], dict], codes: CodeTables
    ) -> None:
        self.hospitals = hospitals
        self.groups = groups
        self.codes = codes
        self.hits: list[tuple[str, str]] = []
        self.rate = {"510100": 13500, "510700": 11800, "511300": 11200}
        self.coefficients = {"511300": {1: 0.85, 2: 0.95, 3: 1.0}}
        self.cross = {"510100": 0.98}
        self.names = {
            "national": self._define(high_ratio=3.0, cost_002=True),
            "510100": self._define(high_ratio=3.0, cost_002=True),
            "510700": self._define(high_ratio=2.5, cost_002=True),
            "511300": self._define(high_ratio=3.0, cost_002=False),
        }
        self.host = get_host()  # registers the rulesets defined above
        self.siblings: dict[tuple[str, str, str], float] = {}
        for (region, scheme, code), group in groups.items():
            key = (region, scheme, code[:3])
            self.siblings[key] = min(self.siblings.get(key, float(group["weight"])), float(group["weight"]))

    def _define(self, *, high_ratio: float, cost_002: bool) -> str:
        name = f"bare_{next(_names)}"
        hits = self.hits

        def record(rule_id: str):
            def action(closure) -> None:
                hits.append((rule_id, closure.m.claim_id))

            return action

        target = (m.kind == "claim") & (m.target == True) & (m.discharge >= START_2025)
        grouped = target & (m.grouped == True)
        with ruleset(name):
            # SPLIT-001: same category or same core group; spared when this is a chemo/radiotherapy stay and
            # the earlier discharge recorded a planned readmission: four alternatives.
            for same in ("dx3", "adrg"):
                for spared_by in ("current", "earlier"):
                    earlier = (
                        (m.kind == "claim") & (m.has_adrg == True) if same == "adrg" else (m.kind == "claim")
                    )
                    current = (
                        (m.seq > c.earlier.seq)
                        & (m.hospital_id == c.earlier.hospital_id)
                        & (m.admit >= c.earlier.discharge)
                        & (m.admit <= c.earlier.discharge + 15)
                        & (getattr(m, same) == getattr(c.earlier, same))
                        & (m.t == c.earlier.t)
                        & grouped
                    )
                    if spared_by == "current":
                        current = current & (m.chemo == False)
                    else:
                        earlier = earlier & (m.plan2 == False)
                    when_all(c.earlier << earlier, c.m << current)(record("SPLIT-001"))
            when_all(
                c.earlier << (m.kind == "claim"),
                c.m << (m.seq > c.earlier.seq)
                & (m.admit < c.earlier.discharge)
                & (m.t == c.earlier.t)
                & target,
            )(record("DQ-004"))
            when_all(
                grouped
                & (m.drg == True)
                & (m.severity == "1")
                & (m.mcc >= 1)
                & (m.mcc_evidence == m.mcc)
                & (m.icu_hours <= 0)
                & (m.ventilator_hours <= 0)
                & (m.los <= 5)
                & (m.support == False)
                & (m.discharge_mode != "5")
            )(record("UPC-001"))
            when_all(
                grouped
                & (m.drg == True)
                & (((m.severity == "1") & (m.mcc == 0)) | ((m.severity == "3") & (m.ccmcc == 0)))
            )(record("UPC-002"))
            when_all(grouped & (m.group_known == True) & (m.total_cost >= m.avg_cost * high_ratio))(
                record("OUT-HIGH-001")
            )
            when_all(
                grouped
                & (m.group_known == True)
                & (m.total_cost <= m.avg_cost * 0.3)
                & (m.discharge_mode != "2")
                & (m.discharge_mode != "3")
                & (m.discharge_mode != "4")
                & (m.discharge_mode != "5")
            )(record("OUT-LOW-001"))
            when_all(grouped & (m.los >= 60))(record("LOS-001"))
            when_all(grouped & (m.has_self_share == True) & (m.self_share >= 0.3))(record("COST-001"))
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
            when_all(grouped & (m.admissions_365 >= 6) & (m.chemo == False))(record("FREQ-001"))
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
            when_all(grouped & (m.ungroupable == True))(record("DQ-002"))
            when_all(grouped & (m.group_known == False) & (m.ungroupable == False))(record("DQ-003"))
            when_all((m.kind == "close") & (m.t == True))(lambda closure: None)
        return name

    def fact(self, claim: dict[str, Any], seq: int, admissions: int, target: bool) -> dict[str, Any]:
        """The fields these rules read, computed by hand."""
        region = claim["treatment_region"]
        scheme = claim["payment_scheme"]
        code = claim.get("group_code") or ""
        ungroupable = code == "0000" or code.upper().endswith("QY")
        grouped = scheme in ("DRG", "DIP")
        group = self.groups.get((region, scheme, code)) if grouped and not ungroupable else None
        hospital = self.hospitals.get(claim["hospital_id"])
        total = float(claim["total_cost"])
        secondary = tuple(claim.get("secondary_dx") or ())
        procedures = claim.get("procedures") or []
        complications = self.codes.complications(claim["principal_dx"], secondary)
        self_expense = float(claim.get("self_expense") or 0)
        outside = float(claim.get("outside_purchase") or 0)
        lab = float(claim.get("fee_lab") or 0) + float(claim.get("fee_exam") or 0)
        admit, discharge = claim["admit_date"], claim["discharge_date"]
        designated = hospital.get("designated_on") if hospital else None
        principal = claim["principal_dx"]
        chemo = principal.startswith(CHEMO)
        return {
            "kind": "claim", "t": True, "target": target, "seq": seq, "claim_id": claim["claim_id"],
            "hospital_id": claim["hospital_id"], "admit": admit.toordinal(), "discharge": discharge.toordinal(),
            "los": max(1, (discharge - admit).days), "dx3": principal[:3], "grouped": grouped, "drg": scheme == "DRG",
            "has_adrg": grouped and bool(code) and not ungroupable, "adrg": code[:3], "severity": code[-1:] if grouped and not ungroupable else "",
            "ungroupable": grouped and ungroupable, "group_known": group is not None,
            "avg_cost": float(group["avg_cost"]) if group else 0.0, "total_cost": total,
            "mcc": len(complications.mcc), "ccmcc": len(complications.mcc) + len(complications.cc),
            "mcc_evidence": sum(1 for x in complications.mcc if x.startswith(MCC_EVIDENCE)),
            "support": any(p.startswith(SUPPORT_PROCEDURES) for p in procedures),
            "icu_hours": float(claim.get("icu_hours") or 0), "ventilator_hours": float(claim.get("ventilator_hours") or 0),
            "discharge_mode": claim["discharge_mode"], "emergency": claim.get("admission_route") == "1",
            "has_self_share": total > 0, "self_share": (self_expense + outside) / total if total > 0 else 0.0,
            "outside_purchase": outside, "procedures": len(procedures),
            "has_lab_share": total > 0, "lab_share": lab / total if total > 0 else 0.0,
            "admissions_365": admissions, "chemo": chemo, "plan2": claim.get("readmit_plan_31d") == "2",
            "cross": claim["insured_region"] != region, "has_designation": designated is not None,
            "days_designated": (admit - designated).days if designated else 0,
            "regional_center": bool(hospital and hospital.get("regional_center")),
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
            admissions.append(
                sum(1 for other in ordered[: i + 1] if 0 <= (admit - other["admit_date"]).days < 365)
            )
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
