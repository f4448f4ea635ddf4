"""The patients of the demo: background patients, planted violations and legitimate look-alikes.

Each scenario makes one patient's stays (a `Unit`) and says which of them are planted cases or
look-alikes of which rule. Background patients are built so that they meet none of the planted
conditions: at most four stays a year, more than 30 days between a discharge and the next admission
(so never four admissions in 90 days, never a same-day readmission or a readmission right after a
transfer-out), cost 0.56–1.85 × the group average (so no high-ratio or extreme case, no costly death),
stays under 40 days, ICU at most 120 hours and within the stay, lab + exam under 42% of the cost,
self-expense under 13%, no outside purchases, fees besides bed and nursing far above 50 yuan a day (bed
and nursing take about a third of a stay's cost at most in the fee profiles), severity consistent with
the coded CC/MCC, evidence for every evidence-needing MCC (ICU or ventilation for life-support MCCs, lab
fees for lab MCCs), a procedure in every surgical group, a group for every DRG stay, a birth weight for
every newborn, no new-technology procedure, and no cross-region stay in a new hospital's coaching period.

The one exception is UPC-004, a hospital-level indicator: every cross-region claim in a CC/MCC group at
the hospital that over-codes its cross-region patients is a truth row, background or not.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

from drgaudit.demo.boundary import BOUNDARY_NOTE, Boundaries
from drgaudit.demo.coding import CC, MCC, NONE, SUFFIX
from drgaudit.demo.province import CC_MCC_HOSPITAL, Hospital
from drgaudit.demo.stays import Patient, Stay, StayFactory
from drgaudit.demo.templates import Catalog, Pathway, Template
from drgaudit.engine.functions import add_calendar_months
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.pack import RulePack

PLANTED, LOOKALIKE = "planted", "lookalike"

# The bundled rules the demo plants cases for, in the order the summary lists them.
PLANTED_RULES: tuple[str, ...] = (
    "SPLIT-001", "SPLIT-002", "SPLIT-003", "UPC-001", "UPC-002", "UPC-003", "UPC-004",
    "OUT-HIGH-001", "OUT-EXT-001", "OUT-LOW-001", "OUT-UNG-001", "OUT-DEATH-001", "OUT-ICU-001",
    "OUT-NEW-001", "LOS-001", "COST-001", "LOWADM-001", "GHOST-001", "FREQ-001", "FREQ-002", "COACH-001",
    "SEV-001", "LOS-002", "LOS-003", "LOS-004", "LOS-005", "SPLIT-004", "FREQ-003", "DQ-005", "DQ-006",
)  # fmt: skip


@cache
def rule_families() -> dict[str, str]:
    """Planted rule id -> its family, as the bundled rule pack declares it."""
    pack = load_pack(bundled_rules_dir())
    families = {rule.id: rule.family for rule in pack.rules}
    return {rule_id: families[rule_id] for rule_id in PLANTED_RULES}


# Planted scenario of each rule with one planted claim per unit (frequent admissions: see plan_units;
# UPC-004: the units add claims at the over-coding hospital, whose every cross-region CC/MCC claim counts).
RULE_SCENARIO: dict[str, str] = {
    "SPLIT-001": "split",
    "SPLIT-002": "same_day",
    "SPLIT-003": "transfer_down",
    "UPC-001": "upcoding_mcc",
    "UPC-002": "upcoding_none",
    "UPC-003": "no_procedure",
    "UPC-004": "cc_mcc_hospital",
    "OUT-HIGH-001": "outlier_high",
    "OUT-EXT-001": "outlier_extreme",
    "OUT-LOW-001": "outlier_low",
    "OUT-UNG-001": "ungroupable",
    "OUT-DEATH-001": "rescue_death",
    "OUT-ICU-001": "long_icu",
    "OUT-NEW-001": "new_technology",
    "LOS-001": "long_stay",
    "COST-001": "cost_shifting",
    "LOWADM-001": "low_standard",
    "GHOST-001": "ghost_bed",
    "COACH-001": "coaching",
    "SEV-001": "severe_shift",
    "LOS-002": "psychiatric_long_stay",
    "LOS-003": "rehabilitation_long_stay",
    "LOS-004": "hospice_long_stay",
    "LOS-005": "other_per_diem_long_stay",
    "SPLIT-004": "per_diem_split",
    "DQ-005": "icu_over_stay",
    "DQ-006": "newborn_no_weight",
}
# Claims in one unit of a planted scenario (1 unless named here).
SCENARIO_CLAIMS: dict[str, int] = {"split": 2, "same_day": 2, "transfer_down": 2, "per_diem_split": 2}
# The per-diem (按床日) long-stay rule of each discharge department of the demo's per-diem templates.
PER_DIEM_LONG_STAY: dict[str, str] = {
    "A15": "LOS-002",
    "A21": "LOS-003",
    "A24": "LOS-004",
    "A03.09": "LOS-005",
}
# Look-alike scenarios and how many claims a unit has (chemotherapy: drawn when planning).
LOOKALIKE_CLAIMS: dict[str, int] = {
    "chemo_cycles": 0,
    "supported_mcc": 1,
    "sepsis_with_lab": 1,
    "low_cost_death": 1,
    "other_hospital_readmission": 2,
    "transfer_up": 2,
    "planned_readmission": 2,
    "moderate_icu": 1,
    "regional_center": 1,
}
# Most ICU hours of a stay that is not a planted long-ICU case (OUT-ICU-001 looks at 168).
MAX_ORDINARY_ICU_HOURS = 160
# Second letter of the core groups (ADRG) of surgical DRG groups.
SURGICAL_ADRG_LETTERS = "ABCDEFGHIJ"
# Days of the coaching period in which the planted (and look-alike) coaching stays are admitted.
COACHING_ADMIT_DAYS = 175


@dataclass(frozen=True)
class Truth:
    """One truth.csv row about the stay at `index` of its unit; `{0}`, `{1}`… in the note are claim ids."""

    index: int
    rule_id: str
    kind: str
    note: str

    @property
    def family(self) -> str:
        return rule_families()[self.rule_id]


@dataclass
class Unit:
    """One patient's stays of one scenario, in admission order."""

    stays: list[Stay]
    truths: list[Truth] = field(default_factory=list)


class Scenarios:
    """Builds the units of every scenario with one StayFactory."""

    def __init__(self, factory: StayFactory, pack: RulePack | None = None) -> None:
        self.f = factory
        self.rng: random.Random = factory.rng
        self.catalog: Catalog = factory.catalog
        self._drg_templates = [t for t in self.catalog.templates if not t.per_diem_paid and not t.newborn]
        self.cc_mcc_hospital = factory.province.hospital_with_role(CC_MCC_HOSPITAL)
        # Whether this run plants the over-coding hospital (UPC-004); small runs have too few peers for it.
        self.plants_cc_mcc = True
        self.builders: dict[str, Callable[[int], Unit]] = {
            "split": self.split,
            "same_day": self.same_day,
            "transfer_down": self.transfer_down,
            "upcoding_mcc": self.upcoding_mcc,
            "upcoding_none": self.upcoding_none,
            "no_procedure": self.no_procedure,
            "cc_mcc_hospital": self.cc_mcc,
            "outlier_high": self.outlier_high,
            "outlier_extreme": self.outlier_extreme,
            "outlier_low": self.outlier_low,
            "ungroupable": self.ungroupable,
            "rescue_death": self.rescue_death,
            "long_icu": self.long_icu,
            "new_technology": self.new_technology,
            "long_stay": self.long_stay,
            "cost_shifting": self.cost_shifting,
            "low_standard": self.low_standard,
            "ghost_bed": self.ghost_bed,
            "coaching": self.coaching,
            "severe_shift": self.severe_shift,
            "psychiatric_long_stay": self.psychiatric_long_stay,
            "rehabilitation_long_stay": self.rehabilitation_long_stay,
            "hospice_long_stay": self.hospice_long_stay,
            "other_per_diem_long_stay": self.other_per_diem_long_stay,
            "per_diem_split": self.per_diem_split,
            "per_diem_frequent": self.per_diem_frequent,
            "frequent": self.frequent,
            "frequent_90": self.frequent_90,
            "icu_over_stay": self.icu_over_stay,
            "newborn_no_weight": self.newborn_no_weight,
            "chemo_cycles": self.chemo_cycles,
            "supported_mcc": self.supported_mcc,
            "sepsis_with_lab": self.sepsis_with_lab,
            "low_cost_death": self.low_cost_death,
            "other_hospital_readmission": self.other_hospital_readmission,
            "transfer_up": self.transfer_up,
            "planned_readmission": self.planned_readmission,
            "moderate_icu": self.moderate_icu,
            "regional_center": self.regional_center,
        }
        # Look-alikes at the thresholds and exemptions, from the loaded pack's values (demo/boundary.py).
        self.pack = pack or load_pack(bundled_rules_dir())
        self.boundaries = Boundaries(self, self.pack)
        self.builders.update(self.boundaries.builders())

    def build(self, scenario: str, size: int) -> Unit:
        """One unit of a planted or look-alike scenario."""
        return self._finished(self.builders[scenario](size))

    def _finished(self, unit: Unit) -> Unit:
        for i, stay in enumerate(unit.stays):
            if stay.template.newborn and stay.admit is not None and stay.patient.newborn_weight is None:
                stay.patient.birth = stay.admit - timedelta(days=self.rng.randint(1, 27))
                stay.patient.newborn_weight = self.rng.randint(2500, 4200)
            if self._over_coded(stay):
                label = "严重并发症（MCC）" if stay.group.endswith(SUFFIX[MCC]) else "并发症（CC）"
                name = self.cc_mcc_hospital.name
                note = f"{name}异地患者伴{label}病组占比远高于同级医院，本例入{stay.group}"
                unit.truths.append(Truth(i, "UPC-004", PLANTED, note))
        return unit

    def _over_coded(self, stay: Stay) -> bool:
        """A cross-region stay in a CC/MCC group at the hospital that over-codes (UPC-004 hits them all)."""
        return (
            self.plants_cc_mcc
            and stay.hospital is self.cc_mcc_hospital
            and stay.cross_region
            and stay.scheme == "DRG"
            and stay.coded_group is None
            and stay.group[-1:] in (SUFFIX[MCC], SUFFIX[CC])
        )

    # --- background -----------------------------------------------------------------------------------

    def background(self, n: int) -> Unit:
        """An ordinary patient with up to `n` stays (fewer if they do not fit in the year)."""
        f, rng = self.f, self.rng
        primary = f.random_template()
        patient = f.new_patient(primary)
        if primary.newborn:
            n = 1
        age = patient.age_at(f.province.mid_year)
        used: dict[str, int] = {}
        stays: list[Stay] = []
        for i in range(n):
            template: Template | None = primary
            if i and (rng.random() < 0.4 or used.get(primary.key, 0) >= primary.max_stays):
                template = self._other_template(patient.gender, age, used)
            if template is None or used.get(template.key, 0) >= template.max_stays:
                break
            used[template.key] = used.get(template.key, 0) + 1
            stays.append(f.draft(patient, template, f.treatment_region(patient)))
        stays = f.schedule(stays, (31, 45), spread=True)
        for i, stay in enumerate(stays):
            r = rng.random()
            if i == len(stays) - 1 and r < stay.template.death:
                stay.mode = "5"
            elif r > 0.96:
                stay.mode = ("2", "4", "4", "9")[int((r - 0.96) * 100)]
                if stay.mode in ("2", "4"):
                    # Background transfers and departures against advice are not early (SEV-001 looks at
                    # severe cases leaving within 2 days).
                    stay.days = max(stay.days, 3)
            stay.readmit = "" if rng.random() < 0.12 else "1"
            hospital = f.place(stay)
            if hospital.level == 1 and stay.scheme == "DRG" and rng.random() < 0.12:
                stay.scheme = "FFS"
        return self._finished(Unit(stays))

    def _other_template(self, gender: str, age: int, used: dict[str, int]) -> Template | None:
        for _ in range(10):
            t = self.f.random_template()
            if not t.newborn and t.allows(gender, age) and used.get(t.key, 0) < t.max_stays:
                return t
        return None

    # --- helpers --------------------------------------------------------------------------------------

    def _patient(self, choices: tuple[Template, ...] | list[Template]) -> tuple[Template, Patient]:
        template = self.rng.choice(choices)
        return template, self.f.new_patient(template)

    def _single(self, stay: Stay, *, earliest: date | None = None, latest: date | None = None) -> Stay:
        self.f.schedule([stay], (0, 0), earliest=earliest, latest=latest)
        return stay

    def _split_pathways(self, template: Template, digits: str) -> list[Pathway]:
        coder = self.f.coder
        return [p for p in template.pathways if any(d in coder.splits(p.adrg) for d in digits)]

    # --- planted --------------------------------------------------------------------------------------

    def split(self, _size: int) -> Unit:
        """SPLIT-001: readmitted to the same hospital 1–15 days after discharge, same category or ADRG."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("split"))
        first, second = self._related_pair(template, patient)
        f.place(first, also=[second])
        for stay in (first, second):
            stay.readmit = rng.choice(("1", "1", ""))
        gap = second.days_after(first)
        note = f"出院后{gap}天再次入住同一医院，主要诊断 {first.principal} → {second.principal}（前次 {{0}}）"
        return Unit([first, second], [Truth(1, "SPLIT-001", PLANTED, note)])

    def _related_pair(
        self, template: Template, patient: Patient, max_level: int = 3, gap: tuple[int, int] = (1, 15)
    ) -> tuple[Stay, Stay]:
        f, rng = self.f, self.rng
        region = f.treatment_region(patient)
        first = f.draft(patient, template, region, max_level=max_level)
        pathway = first.pathway
        same = [c for c in pathway.principal if c[:3] == first.principal[:3]]
        other = [c for c in pathway.principal if c[:3] != first.principal[:3]]
        principal = rng.choice(other) if other and rng.random() < 0.3 else rng.choice(same)
        second = f.draft(patient, template, region, pathway=pathway, principal=principal)
        f.schedule([first, second], gap)
        return first, second

    def upcoding_mcc(self, _size: int) -> Unit:
        """UPC-001: an MCC group whose only MCC needs evidence the record lacks, in a short, cheap stay.

        Half are life-support MCCs (respiratory failure, shock) without ICU, ventilation or a supporting
        procedure; half are lab MCCs (sepsis, acute kidney failure) with almost no lab fees."""
        lab = self.rng.random() < 0.5
        stay, mcc = self._unsupported_mcc("upcoding_lab" if lab else "upcoding_mcc", lab=lab)
        if lab:
            stay.lab_fee = round(self.rng.uniform(0, 0.8 * self.catalog.evidence.min_lab_fee), 2)
            note = f"病组{stay.group}仅凭{mcc}入MCC，但化验费约{stay.lab_fee:.0f}元，无相应检验证据，住院{stay.los}天"
        else:
            note = f"病组{stay.group}仅凭{mcc}入MCC，但无ICU和呼吸机时长、无支持性操作，住院{stay.los}天"
        return Unit([stay], [Truth(0, "UPC-001", PLANTED, note)])

    def _unsupported_mcc(self, scenario: str, *, lab: bool) -> tuple[Stay, str]:
        """A short, cheap stay in an MCC group whose only MCC is a lab (or a life-support) one."""
        f, rng = self.f, self.rng
        ev = self.catalog.evidence
        while True:
            template, patient = self._patient(self.catalog.scenario_templates(scenario))
            pathway = rng.choice(self._split_pathways(template, "1"))
            age = patient.age_at(f.province.mid_year)
            options = [
                (c, m)
                for c in pathway.principal
                for m in f.coder.pools(template, c, patient.gender, age).mcc_evidence
                if ev.needs_lab(m) == lab
            ]
            if options:
                break
        principal, mcc = rng.choice(options)
        region = f.treatment_region(patient)
        stay = f.draft(
            patient,
            template,
            region,
            pathway=pathway,
            principal=principal,
            level=MCC,
            mcc_code=mcc,
            evidence=False,
        )
        stay.days = rng.randint(2, 5)
        stay.icu = stay.vent = 0
        stay.procedures = [p for p in stay.procedures if not ev.supports(p)]
        stay.cost_factor = rng.uniform(0.58, 0.95)
        f.place(self._single(stay))
        return stay, mcc

    def upcoding_none(self, _size: int) -> Unit:
        """UPC-002: a group that claims a CC or MCC although no secondary diagnosis qualifies."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("upcoding_none"))
        pathway = rng.choice(self._split_pathways(template, "13"))
        splits = f.coder.splits(pathway.adrg)
        digit = rng.choice([d for d in ("1", "3") if d in splits])
        region = f.treatment_region(patient)
        stay = f.draft(patient, template, region, pathway=pathway, level=NONE)
        excluded = f.coder.pools(
            template, stay.principal, patient.gender, patient.age_at(f.province.mid_year)
        ).excluded
        if excluded and rng.random() < 0.65:
            code = rng.choice(excluded)
            if code not in stay.secondary:
                stay.secondary.insert(0, code)
            why = f"所编{code}与主要诊断{stay.principal}同属排除表，不构成并发症"
        else:
            stay.secondary = [c for c in stay.secondary if not f.coder.is_complication(c)]
            why = "未编码任何CC/MCC"
        stay.group = pathway.adrg + digit
        if digit == "1":
            stay.days = max(stay.days, rng.randint(6, 9))
        stay.cost_factor = rng.uniform(0.6, 1.0)
        f.place(self._single(stay))
        label = "严重并发症（MCC）" if digit == "1" else "并发症（CC）"
        note = f"病组{stay.group}表示伴{label}，但{why}"
        return Unit([stay], [Truth(0, "UPC-002", PLANTED, note)])

    def outlier_high(self, _size: int) -> Unit:
        """OUT-HIGH-001: total cost 3.2–4.8 × the group average (a high-ratio case, not an extreme one)."""
        stay = self._costly(3.2, 4.8)
        note = f"医疗费用约为病组{stay.group}次均费用的{stay.cost_factor:.1f}倍"
        return Unit([stay], [Truth(0, "OUT-HIGH-001", PLANTED, note)])

    def outlier_extreme(self, _size: int) -> Unit:
        """OUT-EXT-001: total cost 5.3–9 × the group average (an extreme case)."""
        stay = self._costly(5.3, 9.0)
        note = f"医疗费用约为病组{stay.group}次均费用的{stay.cost_factor:.1f}倍，超过5倍，属极端费用病例"
        return Unit([stay], [Truth(0, "OUT-EXT-001", PLANTED, note)])

    def _costly(self, low: float, high: float) -> Stay:
        f, rng = self.f, self.rng
        template, patient = self._patient(self._drg_templates)
        stay = f.draft(patient, template, f.treatment_region(patient))
        stay.days = min(39, max(stay.days, round(stay.days * rng.uniform(1.1, 1.5))))
        stay.cost_factor = rng.uniform(low, high)
        f.place(self._single(stay))
        return stay

    def outlier_low(self, _size: int) -> Unit:
        """OUT-LOW-001: total cost at most 0.3 × the group average, discharged on medical advice."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self._drg_templates)
        stay = f.draft(patient, template, f.treatment_region(patient), level=NONE)
        stay.days = rng.randint(1, 3)
        stay.cost_factor = rng.uniform(0.12, 0.28)
        f.place(self._single(stay))
        note = f"医疗费用仅为病组{stay.group}次均费用的{stay.cost_factor:.0%}，医嘱离院"
        return Unit([stay], [Truth(0, "OUT-LOW-001", PLANTED, note)])

    def long_stay(self, _size: int) -> Unit:
        """LOS-001: 60 days or more."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("long_stay"))
        stay = f.draft(patient, template, f.treatment_region(patient))
        stay.days = rng.randint(60, 110)
        stay.cost_factor = rng.uniform(1.25, 1.9)
        f.place(self._single(stay))
        return Unit([stay], [Truth(0, "LOS-001", PLANTED, f"住院{stay.los}天")])

    def severe_stay(self, *, max_hospital_level: int = 3) -> Stay:
        """A severe DRG stay (an MCC group, the MCC one that needs no evidence, so UPC-001 has nothing to say)
        of ordinary cost (0.6–1.0 × the group's average: no low-ratio case), not yet dated or placed."""
        f, rng = self.f, self.rng
        while True:
            template, patient = self._patient(self.catalog.scenario_templates("severe"))
            pathways = [p for p in self._split_pathways(template, "1") if p.min_level <= max_hospital_level]
            if not pathways:
                continue
            pathway = rng.choice(pathways)
            age = patient.age_at(f.province.mid_year)
            principals = [
                c for c in pathway.principal if f.coder.pools(template, c, patient.gender, age).mcc_plain
            ]
            if principals:
                break
        # Treated in the insured region: severe stays in MCC groups at cross-region hospitals would raise the
        # hospitals' cross-region CC/MCC shares that UPC-004 compares (the demo plants one over-coding
        # hospital only). A treatment region is still drawn, so that the other claims stay the same.
        f.treatment_region(patient)
        stay = f.draft(
            patient,
            template,
            patient.insured.code,
            pathway=pathway,
            principal=rng.choice(principals),
            level=MCC,
            mcc_kind="plain",
        )
        stay.cost_factor = rng.uniform(0.6, 1.0)
        return stay

    def severe_shift(self, _size: int) -> Unit:
        """SEV-001: a severe case that leaves within `max_los_days` days against advice (any hospital), or is
        transferred out of a hospital of level `transfer_level` or above (the loaded pack's values)."""
        values = self.boundaries.values
        stay = self.severe_stay()
        limit = int(values.param("SEV-001", "max_los_days", stay.region))
        level = int(values.param("SEV-001", "transfer_level", stay.region))
        stay.days = self.rng.randint(1, limit)
        self._single(stay)
        if self.rng.random() < 0.5:
            stay.mode = "4"
            self.f.place(stay)
            note = f"重症病例（{stay.group}）入院{stay.los}天即非医嘱离院"
        else:
            stay.mode = "2"
            hospital = self.f.place(stay, levels=(level, 3))
            note = f"重症病例（{stay.group}）入院{stay.los}天即被{hospital.level}级医院转出"
        return Unit([stay], [Truth(0, "SEV-001", PLANTED, note)])

    # --- per-diem (按床日) stays ------------------------------------------------------------------------

    def new_stay(self, choices: tuple[Template, ...] | list[Template]) -> Stay:
        """A new patient's stay of one of these templates, in a treatment region drawn for the patient; not
        dated or placed."""
        template, patient = self._patient(choices)
        return self.f.draft(patient, template, self.f.treatment_region(patient))

    def per_diem_stay(self, dept: str) -> Stay:
        """A new patient's per-diem stay of a template of the department; not dated or placed."""
        return self.new_stay([t for t in self.catalog.templates if t.per_diem_paid and t.dept == dept])

    def long_per_diem(self, dept: str, over: int | None = None) -> tuple[Stay, str, int]:
        """A per-diem stay `over` days (0–40 at random) past its department's long-stay limit (the loaded
        pack's value), dated and placed; also the rule and the limit."""
        rule = PER_DIEM_LONG_STAY[dept]
        stay = self.per_diem_stay(dept)
        limit = int(self.boundaries.values.param(rule, "max_los_days", stay.region))
        stay.days = max(1, limit + (self.rng.randint(0, 40) if over is None else over))
        self.f.place(self._single(stay))
        return stay, rule, limit

    def psychiatric_long_stay(self, _size: int) -> Unit:
        """LOS-002: a per-diem psychiatric stay at or past its limit (180 days in the bundled pack)."""
        stay, rule, limit = self.long_per_diem("A15")
        return Unit([stay], [Truth(0, rule, PLANTED, f"精神科按床日住院{stay.los}天（标准{limit}天）")])

    def rehabilitation_long_stay(self, _size: int) -> Unit:
        """LOS-003: a per-diem rehabilitation stay at or past its limit (90 days in the bundled pack)."""
        stay, rule, limit = self.long_per_diem("A21")
        return Unit([stay], [Truth(0, rule, PLANTED, f"康复医学科按床日住院{stay.los}天（标准{limit}天）")])

    def hospice_long_stay(self, _size: int) -> Unit:
        """LOS-004: a per-diem hospice stay at or past its limit (90 days in the bundled pack)."""
        stay, rule, limit = self.long_per_diem("A24")
        return Unit([stay], [Truth(0, rule, PLANTED, f"安宁疗护科按床日住院{stay.los}天（标准{limit}天）")])

    def other_per_diem_long_stay(self, _size: int) -> Unit:
        """LOS-005: a per-diem stay of another department (geriatrics, A03.09) at or past its limit (60 days
        in the bundled pack)."""
        stay, rule, limit = self.long_per_diem("A03.09")
        return Unit([stay], [Truth(0, rule, PLANTED, f"老年病科按床日住院{stay.los}天（标准{limit}天）")])

    def per_diem_pair(self, offset: int | None = None) -> tuple[Stay, Stay, int]:
        """Two per-diem stays of one patient in one department at one hospital, the second admitted 1 day to
        SPLIT-004's window (at random) after the first discharge, or `offset` days from the window's end
        (at least 1); also the window."""
        first = self.per_diem_stay(self.rng.choice(tuple(PER_DIEM_LONG_STAY)))
        second = self.f.draft(first.patient, first.template, first.region)
        window = int(self.boundaries.values.param("SPLIT-004", "window_days", first.region))
        days = self.rng.randint(1, window) if offset is None else max(1, window + offset)
        self.f.schedule([first, second], (days, days))
        self.f.place(first, also=[second])
        first.readmit = second.readmit = "1"
        return first, second, window

    def per_diem_split(self, _size: int) -> Unit:
        """SPLIT-004: a per-diem patient readmitted to the same hospital and department within the window."""
        first, second, window = self.per_diem_pair()
        gap = second.days_after(first)
        note = f"按床日住院出院后{gap}天再次入住同一医院同一科室（窗口{window}天，前次 {{0}}）"
        return Unit([first, second], [Truth(1, "SPLIT-004", PLANTED, note)])

    def per_diem_admissions(self) -> int:
        """The most per-diem admissions in a year FREQ-003 allows in any treatment region of the province
        (the loaded pack's values): the stays of each per-diem frequent-admission unit."""
        values = self.boundaries.values
        return max(
            int(values.param("FREQ-003", "max_admissions", r.code) or 2) for r in self.f.province.regions
        )

    def per_diem_frequent(self, size: int) -> Unit:
        """FREQ-003: `size` per-diem stays in the year; those from the region's `max_admissions`-th on are
        planted, the one before a look-alike just below the threshold. The stays are further apart than
        SPLIT-004's window and last at most 30 days, so that they fit in the year."""
        first = self.per_diem_stay(self.rng.choice(tuple(PER_DIEM_LONG_STAY)))
        region = first.region
        most = int(self.boundaries.values.param("FREQ-003", "max_admissions", region))
        window = int(self.boundaries.values.param("SPLIT-004", "window_days", region))
        stays = [first] + [self.f.draft(first.patient, first.template, region) for _ in range(size - 1)]
        for stay in stays:
            stay.days = min(stay.days, 30)
        stays = self.f.schedule(stays, (window + 1, window + 5))
        if len(stays) < size:
            raise ValueError(f"FREQ-003: {size} per-diem stays do not fit in the demo year")
        for stay in stays:
            self.f.place(stay)
        below = f"{BOUNDARY_NOTE}：一年内第{most - 1}次按床日住院，未达{most}次（前次 {{0}} 起）"
        truths = [Truth(most - 2, "FREQ-003", LOOKALIKE, below)] if most >= 2 else []
        truths += [
            Truth(i, "FREQ-003", PLANTED, f"一年内第{i + 1}次按床日住院（标准{most}次）")
            for i in range(most - 1, size)
        ]
        return Unit(stays, truths)

    def cost_shifting(self, _size: int) -> Unit:
        """COST-001: self-expense plus outside purchases 35–60% of the total cost."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self._drg_templates)
        stay = f.draft(patient, template, f.treatment_region(patient))
        stay.shift = rng.uniform(0.35, 0.6)
        stay.outside = stay.shift * rng.uniform(0.3, 0.7) if rng.random() < 0.6 else 0.0
        f.place(self._single(stay))
        where = "（含院外购药）" if stay.outside else ""
        note = f"个人自费{where}约占医疗费总额的{stay.shift:.0%}"
        return Unit([stay], [Truth(0, "COST-001", PLANTED, note)])

    def low_standard(self, _size: int) -> Unit:
        """LOWADM-001: ≤ 2 days, no procedure, lab + exam ≥ 60% of the cost, from the outpatient clinic."""
        f, rng = self.f, self.rng
        stay = self.clinic_stay("low_standard")
        stay.days = rng.randint(1, 2)
        stay.lab_exam = rng.uniform(0.62, 0.8)
        stay.cost_factor = rng.uniform(0.4, 0.75)
        f.place(self._single(stay))
        note = f"门诊收治住院{stay.los}天，无手术操作，检验检查费约占{stay.lab_exam:.0%}"
        return Unit([stay], [Truth(0, "LOWADM-001", PLANTED, note)])

    def ghost_bed(self, _size: int) -> Unit:
        """GHOST-001: a stay of min_los_days to 20 days whose fees besides bed and nursing come to 20–80% of
        max_daily_care_cost a day (the treatment region's values)."""
        stay = self.hardly_any_care()
        days = int(self.boundaries.values.param("GHOST-001", "min_los_days", stay.region))
        limit = float(self.boundaries.values.param("GHOST-001", "max_daily_care_cost", stay.region))
        stay.days = self.rng.randint(days, max(days, 20))
        stay.care_cents = round(limit * self.rng.uniform(0.2, 0.8) * stay.los) * 100
        self.f.place(self._single(stay))
        note = f"住院{stay.los}天，除床位费、护理费外日均约{stay.care_cents / 100 / stay.los:.0f}元，几乎没有诊疗"
        return Unit([stay], [Truth(0, "GHOST-001", PLANTED, note)])

    def hardly_any_care(self) -> Stay:
        """A medical DRG stay, admitted from the clinic, no complications or procedures, its total cost a whole
        number of yuan in the group's normal band (0.6–0.95 of its average: no cost-ratio rule fires); its
        days and `care_cents` are the caller's."""
        stay = self.clinic_stay("ghost_bed")
        stay.mode = "1"
        entry = self.f.groups.entry(stay.region, stay.group)
        stay.total_cents = round(entry.avg_cost * self.rng.uniform(0.6, 0.95)) * 100
        return stay

    def clinic_stay(self, scenario: str) -> Stay:
        """A stay of one of the scenario's templates admitted from the clinic, on a pathway with no certain
        procedure and with none coded, no complications."""
        f = self.f
        template, patient = self._patient(self.catalog.scenario_templates(scenario))
        pathways = [p for p in template.pathways if all(s.p < 1.0 for s in p.procedures)]
        stay = f.draft(
            patient, template, f.treatment_region(patient), pathway=self.rng.choice(pathways), level=NONE
        )
        stay.procedures = []
        stay.route = "2"
        return stay

    def coaching(self, _size: int) -> Unit:
        """COACH-001: a cross-region stay at the newly designated hospital discharged in its coaching period
        (six calendar months from designation)."""
        hospital = self.f.new_hospital
        stay = self._in_new_hospital(hospital)
        days = (stay.admitted - hospital.designated_on).days
        note = f"{hospital.name}于{hospital.designated_on}新纳入定点，辅导期第{days + 1}天收治异地参保患者，辅导期内出院结算"
        return Unit([stay], [Truth(0, "COACH-001", PLANTED, note)])

    def _in_new_hospital(self, hospital: Hospital) -> Stay:
        f, rng = self.f, self.rng
        insured = rng.choice([r for r in f.province.regions if r.code != hospital.region])
        template = rng.choice([t for t in self._drg_templates if t.min_level <= hospital.level])
        patient = f.new_patient(template, insured)
        stay = f.draft(patient, template, hospital.region, max_level=hospital.level)
        latest = hospital.designated_on + timedelta(days=COACHING_ADMIT_DAYS)
        self._single(stay, earliest=hospital.designated_on, latest=latest)
        # Discharged (settled) within the coaching period: COACH-001 judges by the discharge date.
        months = int(self.boundaries.values.param("COACH-001", "coaching_months", hospital.region))
        end = add_calendar_months(hospital.designated_on, months)
        stay.days = max(1, min(stay.days, (end - stay.admitted).days - 1))
        stay.hospital = hospital
        return stay

    def frequent(self, planted: int) -> Unit:
        """FREQ-001: 5 + `planted` stays within the year; the 6th and later are the planted cases.

        At least 32 days between admissions: never four admissions in 90 days (FREQ-002).
        """
        return self._frequent_series(
            5, planted, max_days=10, gaps=(32, 35), cap_icu=False, rule="FREQ-001",
            note="365天内第{n}次住院（非放化疗、非按床日付费）",
        )  # fmt: skip

    def _frequent_series(
        self,
        before: int,
        planted: int,
        *,
        max_days: int,
        gaps: tuple[int, int],
        cap_icu: bool,
        rule: str,
        note: str,
    ) -> Unit:
        """One patient's `before` + `planted` short stays of one template, `gaps` days apart; the later ones planted."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("frequent"))
        region = f.treatment_region(patient)
        stays = [f.draft(patient, template, region) for _ in range(before + planted)]
        for stay in stays:
            stay.days = min(stay.days, max_days)
            if cap_icu:
                stay.icu = min(stay.icu, stay.los * 24)
            stay.readmit = rng.choice(("1", "1", ""))
        stays = f.schedule(stays, gaps)
        for stay in stays:
            f.place(stay)
        truths = [Truth(i, rule, PLANTED, note.format(n=i + 1)) for i in range(before, len(stays))]
        if len(stays) >= before:
            # One admission short of the threshold: a look-alike just below it.
            below = f"{BOUNDARY_NOTE}：第{before}次住院，未达{before + 1}次（前次 {{0}} 起）"
            truths.insert(0, Truth(before - 1, rule, LOOKALIKE, below))
        return Unit(stays, truths)

    def same_day(self, _size: int) -> Unit:
        """SPLIT-002: discharged and readmitted to the same hospital the same day, for another condition
        (another diagnosis category and core group, so SPLIT-001 does not apply)."""
        f, rng = self.f, self.rng
        choices = self.catalog.scenario_templates("same_day")
        while True:
            template, patient = self._patient(choices)
            age = patient.age_at(f.province.mid_year)
            others = [t for t in choices if t is not template and t.allows(patient.gender, age)]
            if not others:
                continue
            region = f.treatment_region(patient)
            first = f.draft(patient, template, region)
            second = f.draft(patient, rng.choice(others), region)
            if first.principal[:3] != second.principal[:3] and first.group[:3] != second.group[:3]:
                break
        f.schedule([first, second], (0, 0))
        f.place(first, also=[second], levels=(second.pathway.min_level, 3))
        for stay in (first, second):
            stay.readmit = rng.choice(("1", "1", ""))
        note = f"{first.discharge}从同一医院出院当日再次入院（前次 {{0}}），主要诊断 {first.principal} → {second.principal}"
        return Unit([first, second], [Truth(1, "SPLIT-002", PLANTED, note)])

    def transfer_down(self, _size: int) -> Unit:
        """SPLIT-003: discharged as a transfer, admitted 0–1 days later to another hospital of the same level
        (a lateral transfer), same category or core group."""
        f = self.f
        template, patient = self._patient(self.catalog.scenario_templates("transfer"))
        first, second = self._related_pair(template, patient, max_level=2, gap=(0, 1))
        first_hospital = f.place(first, levels=(2, 3))
        if not f.has_peer(first_hospital, second):
            first_hospital = f.place(first, levels=(2, 2))  # every demo region has two level-2 hospitals
        f.place(second, avoid=first_hospital, levels=(first_hospital.level, first_hospital.level))
        first.mode = "2"
        second.route = "3"
        assert second.hospital is not None
        note = (
            f"从{first_hospital.name}（{first_hospital.level}级）转院（前次 {{0}}）{second.days_after(first)}天后入住"
            f"{second.hospital.name}（{second.hospital.level}级），同类疾病，同级医院间平转"
        )
        return Unit([first, second], [Truth(1, "SPLIT-003", PLANTED, note)])

    def no_procedure(self, _size: int) -> Unit:
        """UPC-003: a surgical DRG group (second letter A–J) with no procedure coded at all."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("no_procedure"))
        pathway = rng.choice([p for p in template.pathways if p.adrg[1] in SURGICAL_ADRG_LETTERS])
        stay = f.draft(patient, template, f.treatment_region(patient), pathway=pathway)
        stay.procedures = []
        f.place(self._single(stay))
        return Unit([stay], [Truth(0, "UPC-003", PLANTED, f"手术病组{stay.group}，但未编码任何手术操作")])

    def cc_mcc(self, _size: int) -> Unit:
        """UPC-004: a cross-region stay coded with a CC or MCC (consistently) at the over-coding hospital.

        Its truth row, like that of every cross-region CC/MCC claim there, is added by `_finished`."""
        f, rng = self.f, self.rng
        hospital = self.cc_mcc_hospital
        while True:
            template = rng.choice(self._drg_templates)
            pathways = [p for p in template.pathways if p.min_level <= hospital.level]
            if not pathways:
                continue
            pathway = rng.choice(pathways)
            splits = f.coder.splits(pathway.adrg)
            insured = rng.choice([r for r in f.province.regions if r.code != hospital.region])
            patient = f.new_patient(template, insured)
            principal = rng.choice(pathway.principal)
            pools = f.coder.pools(template, principal, patient.gender, patient.age_at(f.province.mid_year))
            levels = [lvl for lvl, ok in ((MCC, pools.mcc), (CC, pools.cc)) if ok and SUFFIX[lvl] in splits]
            if levels:
                break
        stay = f.draft(
            patient, template, hospital.region, pathway=pathway, principal=principal, level=rng.choice(levels)
        )
        self._single(stay)
        stay.hospital = hospital
        return Unit([stay])

    def ungroupable(self, _size: int) -> Unit:
        """OUT-UNG-001: a DRG claim that could not be grouped (0000) or fell into an ambiguous group (QY)."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self._drg_templates)
        stay = f.draft(patient, template, f.treatment_region(patient))
        stay.coded_group = "0000" if rng.random() < 0.7 else f"{stay.group[0]}QY"
        f.place(self._single(stay))
        why = "无法入组" if stay.coded_group == "0000" else "进入歧义组"
        return Unit(
            [stay], [Truth(0, "OUT-UNG-001", PLANTED, f"病组为{stay.coded_group}（{why}），需特例单议")]
        )

    def rescue_death(self, _size: int) -> Unit:
        """OUT-DEATH-001: death after intensive care, costing 2.1–2.45 × the group average."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("death"))
        stay = f.draft(patient, template, f.treatment_region(patient))
        stay.days = max(stay.days, 2)
        stay.icu = max(stay.icu, rng.randint(12, min(stay.los * 24, MAX_ORDINARY_ICU_HOURS)))
        stay.mode = "5"
        stay.route = "1"
        stay.cost_factor = rng.uniform(2.1, 2.45)
        f.place(self._single(stay))
        note = f"抢救{stay.icu}小时（ICU）后死亡，费用约为病组{stay.group}次均费用的{stay.cost_factor:.1f}倍"
        return Unit([stay], [Truth(0, "OUT-DEATH-001", PLANTED, note)])

    def long_icu(self, _size: int) -> Unit:
        """OUT-ICU-001: 168–400 hours of intensive care, within a stay of at most 39 days."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("icu"))
        stay = f.draft(patient, template, f.treatment_region(patient))
        stay.icu = rng.randint(168, 400)
        stay.days = min(39, max(stay.days, -(-stay.icu // 24) + rng.randint(1, 8)))
        stay.cost_factor = rng.uniform(1.3, 1.85)
        f.place(self._single(stay))
        return Unit([stay], [Truth(0, "OUT-ICU-001", PLANTED, f"重症监护{stay.icu}小时，住院{stay.los}天")])

    def new_technology(self, _size: int) -> Unit:
        """OUT-NEW-001: a robot-assisted operation (a procedure in the new-technology list)."""
        f, rng = self.f, self.rng
        template, patient = self._patient([self.catalog.template(k) for k in self.catalog.new_technologies])
        pathway = rng.choice([p for p in template.pathways if p.adrg[1] in SURGICAL_ADRG_LETTERS])
        stay = f.draft(patient, template, f.treatment_region(patient), pathway=pathway)
        code = rng.choice(self.catalog.new_technologies[template.key])
        stay.procedures.insert(1, code)
        stay.cost_factor = rng.uniform(1.3, 1.85)
        f.place(self._single(stay))
        return Unit(
            [stay],
            [Truth(0, "OUT-NEW-001", PLANTED, f"采用新技术{code}（机器人援助手术），病组{stay.group}")],
        )

    def frequent_90(self, planted: int) -> Unit:
        """FREQ-002: 3 + `planted` stays within 90 days (admissions ≤ 28 days apart, ≥ 16 days between a
        discharge and the next admission); the 4th and later are the planted cases."""
        return self._frequent_series(
            3, planted, max_days=8, gaps=(16, 20), cap_icu=True, rule="FREQ-002",
            note="90天内第{n}次住院（非放化疗透析、非按床日付费）",
        )  # fmt: skip

    def icu_over_stay(self, _size: int) -> Unit:
        """DQ-005: more ICU hours than the stay has hours (1–5 days, under 168 ICU hours)."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self._drg_templates)
        stay = f.draft(patient, template, f.treatment_region(patient), level=NONE)
        stay.days = rng.randint(1, 5)
        stay.icu = min(stay.los * 24 + rng.randint(4, 48), 167)
        f.place(self._single(stay))
        note = f"重症监护{stay.icu}小时，超过住院{stay.los}天（{stay.los * 24}小时）"
        return Unit([stay], [Truth(0, "DQ-005", PLANTED, note)])

    def newborn_no_weight(self, _size: int) -> Unit:
        """DQ-006: a newborn (28 days old at most) whose claim has no birth weight."""
        f = self.f
        template, patient = self._patient(self.catalog.scenario_templates("newborn"))
        stay = f.draft(patient, template, f.treatment_region(patient))
        stay.blank_weight = True
        f.place(self._single(stay))
        return Unit([stay], [Truth(0, "DQ-006", PLANTED, "新生儿病例未填写出生体重")])

    # --- look-alikes ----------------------------------------------------------------------------------

    def chemo_cycles(self, cycles: int) -> Unit:
        """Planned chemotherapy every 14–21 days at one hospital (readmit_plan_31d = 2): not split, not frequent."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("chemo_cycles"))
        region = f.treatment_region(patient)
        # Short cycles: no MCC that would need ICU or ventilation to back it.
        first = f.draft(patient, template, region, mcc_kind="plain")
        stays = [first]
        for _ in range(cycles - 1):
            stays.append(
                f.draft(
                    patient,
                    template,
                    region,
                    pathway=first.pathway,
                    principal=first.principal,
                    mandatory=first.secondary[0],
                    mcc_kind="plain",
                )
            )
        for stay in stays:
            stay.days = rng.randint(2, 5)
            stay.readmit = "2"
            stay.route = "2"
        stays = f.schedule(stays, (9, 16))
        f.place(stays[0], also=stays[1:])
        truths = []
        for i in range(1, len(stays)):
            gap = stays[i].days_after(stays[i - 1])
            if gap <= 15:
                note = (
                    f"计划化疗第{i + 1}周期，出院{gap}天后同院再入院，31天内再住院计划=2（前次 {{{i - 1}}}）"
                )
                truths.append(Truth(i, "SPLIT-001", LOOKALIKE, note))
        if len(stays) >= 4:
            note = "90天内第4次住院，均为化疗（Z51.1主要诊断），不计入频繁住院"
            truths.append(Truth(3, "FREQ-002", LOOKALIKE, note))
        if len(stays) >= 6:
            truths.append(
                Truth(5, "FREQ-001", LOOKALIKE, "第6次住院均为化疗（Z51.1主要诊断），不计入频繁住院")
            )
        return Unit(stays, truths)

    def supported_mcc(self, _size: int) -> Unit:
        """An MCC group with respiratory failure that the record supports (ventilation, ICU, ≥ 7 days)."""
        f, rng = self.f, self.rng
        ev = self.catalog.evidence
        while True:
            template, patient = self._patient(self.catalog.scenario_templates("supported_mcc"))
            pathway = rng.choice(self._split_pathways(template, "1"))
            age = patient.age_at(f.province.mid_year)
            options = [
                (c, m)
                for c in pathway.principal
                for m in f.coder.pools(template, c, patient.gender, age).mcc_evidence
                if m.startswith("J96")
            ]
            if options:
                break
        principal, mcc = rng.choice(options)
        stay = f.draft(
            patient,
            template,
            f.treatment_region(patient),
            pathway=pathway,
            principal=principal,
            level=MCC,
            mcc_code=mcc,
            evidence=False,
        )
        stay.days = rng.randint(7, 20)
        stay.vent = rng.randint(24, 72)
        stay.icu = stay.vent + rng.randint(24, MAX_ORDINARY_ICU_HOURS - 72)
        stay.procedures += [ev.intubation, ev.ventilation[0]]
        stay.cost_factor = rng.uniform(1.1, 1.85)
        f.place(self._single(stay))
        note = f"{mcc}有据：有创通气{stay.vent}小时、ICU {stay.icu}小时、住院{stay.los}天"
        return Unit([stay], [Truth(0, "UPC-001", LOOKALIKE, note)])

    def low_cost_death(self, _size: int) -> Unit:
        """A death soon after admission at a very low cost: exempt from the low-cost rule."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("low_cost_death"))
        stay = f.draft(patient, template, f.treatment_region(patient), level=NONE)
        stay.days = rng.randint(0, 2)
        stay.route = "1"
        stay.mode = "5"
        stay.cost_factor = rng.uniform(0.1, 0.28)
        f.place(self._single(stay))
        note = f"入院{stay.los}天内死亡，费用为次均的{stay.cost_factor:.0%}（死亡病例不按低倍率处理）"
        costly = f"入院{stay.los}天内死亡，费用仅为次均的{stay.cost_factor:.0%}，不属高费用抢救死亡病例"
        return Unit(
            [stay], [Truth(0, "OUT-LOW-001", LOOKALIKE, note), Truth(0, "OUT-DEATH-001", LOOKALIKE, costly)]
        )

    def other_hospital_readmission(self, _size: int) -> Unit:
        """Transferred, then admitted to a different hospital 2–15 days later: not split hospitalisation."""
        f = self.f
        template, patient = self._patient(self.catalog.scenario_templates("other_hospital_readmission"))
        # Up to level 2, so every region has another hospital that treats it; two days or more after
        # the transfer-out, so not a transfer-readmission either (SPLIT-003 looks at 0–1 days).
        first, second = self._related_pair(template, patient, max_level=2, gap=(2, 15))
        f.place(first)
        f.place(second, avoid=first.hospital)
        first.mode = "2"
        second.route = "3"
        gap = second.days_after(first)
        note = f"出院{gap}天后转入另一家医院（前次 {{0}}），不同医院不属于分解住院"
        return Unit([first, second], [Truth(1, "SPLIT-001", LOOKALIKE, note)])

    def regional_center(self, _size: int) -> Unit:
        """A cross-region stay at the newly designated regional medical centre: exempt from coaching."""
        hospital = self.f.new_center
        stay = self._in_new_hospital(hospital)
        days = (stay.admitted - hospital.designated_on).days
        note = f"{hospital.name}为区域医疗中心，新定点第{days + 1}天收治异地患者，豁免辅导期限制"
        return Unit([stay], [Truth(0, "COACH-001", LOOKALIKE, note)])

    def sepsis_with_lab(self, _size: int) -> Unit:
        """A short, cheap stay in an MCC group whose lab MCC (sepsis, acute kidney failure) has its lab work."""
        ev = self.catalog.evidence
        stay, mcc = self._unsupported_mcc("upcoding_lab", lab=True)
        stay.lab_fee = round(self.rng.uniform(2.5, 6.0) * ev.min_lab_fee, 2)
        note = f"{mcc}有检验证据：化验费达{stay.lab_fee:.0f}元以上，住院{stay.los}天"
        return Unit([stay], [Truth(0, "UPC-001", LOOKALIKE, note)])

    def transfer_up(self, _size: int) -> Unit:
        """Transferred up to a higher-level hospital within a day, same condition: a legitimate referral."""
        f = self.f
        template, patient = self._patient(self.catalog.scenario_templates("transfer"))
        first, second = self._related_pair(template, patient, max_level=2, gap=(0, 1))
        first_hospital = f.place(first, levels=(1, 2))
        upper = f.place(second, levels=(first_hospital.level + 1, 3))
        first.mode = "2"
        second.route = "3"
        note = (
            f"从{first_hospital.name}（{first_hospital.level}级）转诊至上级{upper.name}（{upper.level}级）"
            f"（前次 {{0}}），属正常向上转诊"
        )
        return Unit([first, second], [Truth(1, "SPLIT-003", LOOKALIKE, note)])

    def planned_readmission(self, _size: int) -> Unit:
        """Readmitted to the same hospital within 15 days as planned at discharge (readmit_plan_31d = 2)."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("planned_readmission"))
        first, second = self._related_pair(template, patient)
        f.place(first, also=[second])
        first.readmit = "2"
        second.readmit = rng.choice(("1", ""))
        note = f"前次出院（{{0}}）时已登记31天内再住院计划，{second.days_after(first)}天后按计划再入院"
        return Unit([first, second], [Truth(1, "SPLIT-001", LOOKALIKE, note)])

    def moderate_icu(self, _size: int) -> Unit:
        """Intensive care of 90–160 hours: below the long-ICU review threshold."""
        f, rng = self.f, self.rng
        template, patient = self._patient(self.catalog.scenario_templates("icu"))
        stay = f.draft(patient, template, f.treatment_region(patient))
        stay.icu = rng.randint(90, MAX_ORDINARY_ICU_HOURS)
        stay.days = min(39, max(stay.days, -(-stay.icu // 24) + rng.randint(1, 6)))
        f.place(self._single(stay))
        return Unit([stay], [Truth(0, "OUT-ICU-001", LOOKALIKE, f"重症监护{stay.icu}小时，未达168小时")])
