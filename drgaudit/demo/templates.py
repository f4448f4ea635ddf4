"""The disease templates of the demo province, read from `data/templates.yaml`."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from drgaudit.contract import FEE_FIELDS


@dataclass(frozen=True)
class Slot:
    """One procedure position of a pathway: one of `codes`, present with probability `p`."""

    p: float
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Pathway:
    """One way a template's stay is treated, landing in one core DRG group (ADRG)."""

    adrg: str
    share: float
    procedures: tuple[Slot, ...]
    principal: tuple[str, ...]
    kind: str
    min_level: int
    los_min: int


@dataclass(frozen=True)
class Template:
    """One kind of inpatient stay: diagnoses, treatment pathways, patient profile, costs."""

    key: str
    name: str
    frequency: float
    age: tuple[int, int, int]
    male: float
    dept: str
    kind: str
    emergency: float
    death: float
    scheme: str
    per_diem: float
    los: tuple[int, int]
    principal: tuple[str, ...]
    mandatory: tuple[str, ...]
    cc: tuple[str, ...]
    mcc: tuple[str, ...]
    excluded: tuple[str, ...]
    comorbid: tuple[str, ...]
    level_mcc: float
    level_cc: float
    min_level: int
    max_stays: int
    newborn: bool
    same_day: float
    pathways: tuple[Pathway, ...]

    @property
    def per_diem_paid(self) -> bool:
        return self.scheme == "PER_DIEM"

    def allows(self, gender: str, age: int) -> bool:
        """Whether a patient of this gender and age can have this stay."""
        if self.male == 0.0 and gender == "1" or self.male == 1.0 and gender == "2":
            return False
        return self.age[0] <= age <= self.age[2]


@dataclass(frozen=True)
class Evidence:
    """Evidence-needing MCCs (UPC-001) and the procedures that support them."""

    mcc_prefixes: tuple[str, ...]
    lab_prefixes: tuple[str, ...]
    min_lab_fee: float
    support_procedure_prefixes: tuple[str, ...]
    ventilation: tuple[str, ...]
    intubation: str
    dialysis: str

    def needs_evidence(self, code: str) -> bool:
        return code.startswith(self.mcc_prefixes)

    def needs_lab(self, code: str) -> bool:
        """An MCC backed by lab work (sepsis, acute kidney failure) rather than by life support."""
        return code.startswith(self.lab_prefixes)

    def supports(self, procedure: str) -> bool:
        return procedure.startswith(self.support_procedure_prefixes)


@dataclass(frozen=True)
class Catalog:
    """Everything in templates.yaml."""

    templates: tuple[Template, ...]
    adrgs: dict[str, tuple[float, float]]
    severity: dict[str, tuple[float, float]]
    fee_profiles: dict[str, tuple[float, ...]]
    incidental_codes: tuple[str, ...]
    incidental_prefixes: tuple[str, ...]
    diagnostic_codes: tuple[str, ...]
    diagnostic_prefixes: tuple[str, ...]
    evidence: Evidence
    new_technologies: dict[str, tuple[str, ...]]
    plant_rates: dict[str, float]
    scenarios: dict[str, tuple[str, ...]]
    female_prefixes: tuple[str, ...]
    male_prefixes: tuple[str, ...]

    def fits_gender(self, code: str, gender: str) -> bool:
        """Whether a patient of `gender` ("1" male, "2" female) can have diagnosis `code`."""
        barred = self.female_prefixes if gender == "1" else self.male_prefixes
        return not code.startswith(barred)

    def template(self, key: str) -> Template:
        for t in self.templates:
            if t.key == key:
                return t
        raise KeyError(key)

    def scenario_templates(self, scenario: str) -> tuple[Template, ...]:
        return tuple(self.template(k) for k in self.scenarios[scenario])

    def all_codes(self) -> tuple[set[str], set[str]]:
        """Every diagnosis and procedure code the templates name (to check against the code tables)."""
        dx: set[str] = set(self.incidental_codes)
        px: set[str] = set(self.diagnostic_codes) | set(self.evidence.ventilation)
        px |= {self.evidence.intubation, self.evidence.dialysis}
        px.update(code for codes in self.new_technologies.values() for code in codes)
        for t in self.templates:
            dx.update(t.principal, t.mandatory, t.cc, t.mcc, t.excluded, t.comorbid)
            for pw in t.pathways:
                dx.update(pw.principal)
                for slot in pw.procedures:
                    px.update(slot.codes)
        return dx, px


def load_catalog() -> Catalog:
    """Read the bundled templates.yaml."""
    text = resources.files("drgaudit.demo").joinpath("data/templates.yaml").read_text(encoding="utf-8")
    return parse_catalog(yaml.safe_load(text))


def parse_catalog(doc: dict[str, Any]) -> Catalog:
    """Build the catalog from the parsed YAML document."""
    ev = doc["evidence"]
    profiles = {
        name: tuple(float(shares.get(f, 0.0)) for f in FEE_FIELDS)
        for name, shares in doc["fee_profiles"].items()
    }
    return Catalog(
        templates=tuple(_template(t) for t in doc["templates"]),
        adrgs={k: (float(v["weight"]), float(v["los"])) for k, v in doc["adrgs"].items()},
        severity={str(k): (float(v["weight"]), float(v["los"])) for k, v in doc["severity"].items()},
        fee_profiles=profiles,
        incidental_codes=_codes(doc["incidental"]["codes"]),
        incidental_prefixes=_codes(doc["incidental"]["prefixes"]),
        diagnostic_codes=_codes(doc["diagnostic_procedures"]["codes"]),
        diagnostic_prefixes=_codes(doc["diagnostic_procedures"]["prefixes"]),
        evidence=Evidence(
            mcc_prefixes=_codes(ev["mcc_prefixes"]),
            lab_prefixes=_codes(ev["lab_prefixes"]),
            min_lab_fee=float(ev["min_lab_fee"]),
            support_procedure_prefixes=_codes(ev["support_procedure_prefixes"]),
            ventilation=_codes(ev["ventilation"]),
            intubation=str(ev["intubation"]),
            dialysis=str(ev["dialysis"]),
        ),
        new_technologies={str(k): _codes(v) for k, v in doc["new_technologies"].items()},
        plant_rates={str(k): float(v) for k, v in doc["plant_rates"].items()},
        scenarios={k: _codes(v) for k, v in doc["scenarios"].items()},
        female_prefixes=_codes(doc["gender_codes"]["female"]),
        male_prefixes=_codes(doc["gender_codes"]["male"]),
    )


def _codes(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


def _template(t: dict[str, Any]) -> Template:
    principal = _codes(t["principal"])
    kind = str(t["kind"])
    min_level = int(t.get("min_level", 1))
    pathways = tuple(
        Pathway(
            adrg=str(p["adrg"]),
            share=float(p["share"]),
            procedures=tuple(_slot(s) for s in p.get("procedures") or ()),
            principal=_codes(p.get("principal")) or principal,
            kind=str(p.get("kind", kind)),
            min_level=max(min_level, int(p.get("min_level", 1))),
            los_min=int(p.get("los_min", 1)),
        )
        for p in t["pathways"]
    )
    levels = t.get("levels") or {}
    los = t.get("los") or (1, 39)
    return Template(
        key=str(t["key"]),
        name=str(t["name"]),
        frequency=float(t["frequency"]),
        age=(int(t["age"][0]), int(t["age"][1]), int(t["age"][2])),
        male=float(t["male"]),
        dept=str(t["dept"]),
        kind=kind,
        emergency=float(t["emergency"]),
        death=float(t["death"]),
        scheme=str(t.get("scheme", "DRG")),
        per_diem=float(t.get("per_diem", 0.0)),
        los=(int(los[0]), int(los[1])),
        principal=principal,
        mandatory=_codes(t.get("mandatory")),
        cc=_codes(t.get("cc")),
        mcc=_codes(t.get("mcc")),
        excluded=_codes(t.get("excluded")),
        comorbid=_codes(t.get("comorbid")),
        level_mcc=float(levels.get("mcc", 0.0)),
        level_cc=float(levels.get("cc", 0.0)),
        min_level=min_level,
        max_stays=int(t.get("max_stays", 4)),
        newborn=bool(t.get("newborn", False)),
        same_day=float(t.get("same_day", 0.0)),
        pathways=pathways,
    )


def _slot(s: Any) -> Slot:
    if isinstance(s, dict):
        return Slot(p=float(s.get("p", 1.0)), codes=_codes(s["codes"]))
    return Slot(p=1.0, codes=_codes(s))
