"""Patients and inpatient stays of the demo province, and the factory that drafts, dates and places them."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from drgaudit.demo.coding import CC, MCC, NONE, SUFFIX, UNSPLIT, Coder
from drgaudit.demo.groups import GroupTable
from drgaudit.demo.province import NEW_HOSPITAL, NEW_REGIONAL_CENTER, Hospital, Province, Region
from drgaudit.demo.templates import Catalog, Pathway, Template

# Longest background stay (days); LOS-001 looks at 60 and more.
MAX_BACKGROUND_DAYS = 39
# Background cost, relative to the group's average cost (OUT-LOW-001 is at 0.3, OUT-HIGH-001 at 3.0).
MIN_COST_FACTOR, MAX_COST_FACTOR = 0.56, 1.85
# Days after designation during which a new hospital's cross-region stays belong to the planted (or
# look-alike) coaching-period cases only; the coaching period itself is six calendar months (COACH-001).
COACHING_GUARD_DAYS = 200


@dataclass(slots=True)
class Patient:
    """One insured person."""

    patient_id: str
    gender: str
    birth: date
    insured: Region
    insurance_type: str
    newborn_weight: int | None = None
    preferred: dict[str, Hospital] = field(default_factory=dict)

    def age_at(self, day: date) -> int:
        years = day.year - self.birth.year
        if (day.month, day.day) < (self.birth.month, self.birth.day):
            years -= 1
        return max(years, 0)


@dataclass(slots=True)
class Stay:
    """One inpatient stay being built; rendered into one claims.csv row."""

    patient: Patient
    template: Template
    pathway: Pathway
    region: str
    principal: str
    secondary: list[str]
    procedures: list[str]
    level: int
    group: str
    days: int
    route: str
    scheme: str = "DRG"
    admit: date | None = None
    hospital: Hospital | None = None
    mode: str = "1"
    readmit: str = "1"
    icu: int = 0
    vent: int = 0
    cost_factor: float | None = None
    lab_exam: float | None = None
    shift: float | None = None
    outside: float = 0.0
    # Lab fees in yuan, when the stay's lab work is set rather than drawn from the fee profile.
    lab_fee: float | None = None
    # The group code on the claim when it is not the group the stay is costed by (0000, *QY).
    coded_group: str | None = None
    # A newborn's stay whose claim leaves newborn_weight_g empty.
    blank_weight: bool = False
    # Boundary cases (demo/boundary.py): the total cost in fen, set exactly; lab + exam fees exactly
    # `lab_exam` of it.
    total_cents: int | None = None
    exact_lab_exam: bool = False
    # A stay with hardly any care (GHOST-001): the fees besides bed and nursing, in fen; bed and nursing
    # fees take the rest of the total.
    care_cents: int | None = None

    @property
    def admitted(self) -> date:
        """The admission date of a dated stay."""
        assert self.admit is not None, "stay not scheduled yet"
        return self.admit

    @property
    def discharge(self) -> date:
        return self.admitted + timedelta(days=self.days)

    def days_after(self, earlier: Stay) -> int:
        """Days from the earlier stay's discharge to this admission."""
        return (self.admitted - earlier.discharge).days

    @property
    def los(self) -> int:
        """Length of stay as the rules count it: discharge − admit in days, a same-day stay counts 1."""
        return max(self.days, 1)

    @property
    def cross_region(self) -> bool:
        return self.region != self.patient.insured.code


class StayFactory:
    """Drafts stays for patients, dates them within the year and places them in hospitals."""

    def __init__(
        self, rng: random.Random, catalog: Catalog, province: Province, coder: Coder, groups: GroupTable
    ) -> None:
        self.rng = rng
        self.catalog = catalog
        self.province = province
        self.coder = coder
        self.groups = groups
        self._patients = itertools.count(1)
        self._regions = province.regions
        self._region_cum = list(itertools.accumulate(r.population for r in self._regions))
        self._templates = catalog.templates
        self._template_cum = list(itertools.accumulate(t.frequency for t in self._templates))
        self._candidates: dict[tuple[str, int, bool], tuple[list[Hospital], list[float]]] = {}
        self.new_hospital = province.hospital_with_role(NEW_HOSPITAL)
        self.new_center = province.hospital_with_role(NEW_REGIONAL_CENTER)

    # --- patients -------------------------------------------------------------------------------------

    def random_template(self) -> Template:
        return self.rng.choices(self._templates, cum_weights=self._template_cum)[0]

    def new_patient(self, template: Template, insured: Region | None = None) -> Patient:
        """A person whose profile (age, sex) fits the template."""
        rng = self.rng
        if insured is None:
            insured = rng.choices(self._regions, cum_weights=self._region_cum)[0]
        gender = "1" if rng.random() < template.male else "2"
        low, mode, high = template.age
        age = int(rng.triangular(low, high + 0.999, mode))
        # Mid-year reference, so the age at admission stays within a year of the drawn age.
        birth = self.province.mid_year - timedelta(days=int(age * 365.25) + rng.randrange(180))
        adult = age >= 18
        insurance = (
            "employee" if adult and age < 75 and rng.random() < self.province.employee_share else "resident"
        )
        if adult and age >= 75 and rng.random() < self.province.employee_share * 0.6:
            insurance = "employee"
        serial = next(self._patients)
        return Patient(f"P{insured.code}{serial:08d}", gender, birth, insured, insurance)

    def other_region(self, insured: Region) -> str:
        others = [r for r in self._regions if r.code != insured.code]
        return self.rng.choices(others, weights=[r.attract for r in others])[0].code

    def treatment_region(self, patient: Patient) -> str:
        if self.rng.random() < patient.insured.cross_out:
            return self.other_region(patient.insured)
        return patient.insured.code

    # --- stays ----------------------------------------------------------------------------------------

    def pathway(self, template: Template, max_level: int = 3) -> Pathway:
        options = [p for p in template.pathways if p.min_level <= max_level]
        return self.rng.choices(options, weights=[p.share for p in options])[0]

    def draft(
        self,
        patient: Patient,
        template: Template,
        region: str,
        *,
        pathway: Pathway | None = None,
        principal: str | None = None,
        level: int | None = None,
        mcc_kind: str = "any",
        mcc_code: str | None = None,
        mandatory: str | None = None,
        evidence: bool = True,
        max_level: int = 3,
    ) -> Stay:
        """A stay of the template: codes, severity, group, length; not yet dated or placed.

        `level` forces the complication level (None: drawn from the template); `mcc_kind` narrows the MCC
        to an evidence-needing one ("evidence") or another ("plain"), `mcc_code` names it; `mandatory` fixes
        the template's mandatory secondary diagnosis. With `evidence` an evidence-needing MCC gets its
        supporting record (ICU hours, a longer stay, ventilation or dialysis).
        """
        rng = self.rng
        if pathway is None:
            pathway = self.pathway(template, max_level)
        if principal is None:
            principal = rng.choice(pathway.principal)
        pools = self.coder.pools(template, principal, patient.gender, patient.age_at(self.province.mid_year))
        secondary: list[str] = []
        if mandatory is not None:
            secondary.append(mandatory)
        elif template.mandatory:
            options = [c for c in template.mandatory if self.catalog.fits_gender(c, patient.gender)]
            secondary.append(rng.choice(options))
        base = self.coder.level(principal, secondary)
        splits = () if template.per_diem_paid else self.coder.splits(pathway.adrg)
        mcc_options = {"any": pools.mcc, "evidence": pools.mcc_evidence, "plain": pools.mcc_plain}[mcc_kind]
        if level is None:
            level = self._draw_level(template, bool(pools.cc), bool(mcc_options), splits, base)
        level = max(level, base)
        if splits and UNSPLIT not in splits and SUFFIX[level] not in splits:
            raise ValueError(
                f"{template.key}: core group {pathway.adrg} has no severity {SUFFIX[level]} split"
            )
        if level == MCC and base < MCC:
            if mcc_code is None:
                mcc_code = rng.choice(mcc_options)
            secondary.append(mcc_code)
        else:
            mcc_code = None
            if level == CC and base < CC:
                secondary.append(rng.choice(pools.cc))
        if pools.neutral:
            for code in rng.sample(pools.neutral, min(len(pools.neutral), rng.choice((0, 1, 1, 2, 2, 3)))):
                if code not in secondary:
                    secondary.append(code)
        if pools.excluded and rng.random() < 0.08:
            code = rng.choice(pools.excluded)
            if code not in secondary:
                secondary.append(code)
        if template.per_diem_paid:
            group = ""
        elif UNSPLIT in splits:
            group = pathway.adrg + UNSPLIT
        else:
            group = pathway.adrg + SUFFIX[level]
        stay = Stay(
            patient=patient,
            template=template,
            pathway=pathway,
            region=region,
            principal=principal,
            secondary=secondary,
            procedures=self._procedures(pathway),
            level=level,
            group=group,
            days=self._days(template, pathway, region, group),
            route=self._route(template),
            scheme=template.scheme,
        )
        if mcc_code is not None and evidence and self.catalog.evidence.needs_evidence(mcc_code):
            self._add_evidence(stay, mcc_code)
        return stay

    def _draw_level(self, template: Template, cc: bool, mcc: bool, splits: tuple[str, ...], base: int) -> int:
        allowed = {NONE: True, CC: cc, MCC: mcc}
        if splits and UNSPLIT not in splits:
            allowed = {lvl: ok and SUFFIX[lvl] in splits for lvl, ok in allowed.items()}
        allowed = {lvl: ok and lvl >= base for lvl, ok in allowed.items()}
        allowed[base] = True
        r = self.rng.random()
        if r < template.level_mcc and allowed[MCC]:
            return MCC
        if r < template.level_mcc + template.level_cc and allowed[CC]:
            return CC
        return min(lvl for lvl, ok in allowed.items() if ok)

    def _procedures(self, pathway: Pathway) -> list[str]:
        rng = self.rng
        codes = [
            rng.choice(slot.codes) for slot in pathway.procedures if slot.p >= 1.0 or rng.random() < slot.p
        ]
        if rng.random() < 0.25:
            extra = rng.choice(self.coder.diagnostic)
            if extra not in codes:
                codes.append(extra)
        return codes

    def _days(self, template: Template, pathway: Pathway, region: str, group: str) -> int:
        rng = self.rng
        if template.per_diem_paid:
            return rng.randint(*template.los)
        if template.same_day and rng.random() < template.same_day:
            return 0
        avg = self.groups.entry(region, group).avg_los
        days = round(avg * rng.lognormvariate(-0.03, 0.3))
        return min(max(days, pathway.los_min, 1), MAX_BACKGROUND_DAYS)

    def _route(self, template: Template) -> str:
        r = self.rng.random()
        if r < template.emergency:
            return "1"
        return "2" if r < 0.985 else ("3" if r < 0.995 else "9")

    def _add_evidence(self, stay: Stay, mcc_code: str) -> None:
        """Intensive care, ventilation or dialysis behind an evidence-needing MCC (lab MCCs also get
        their lab fees from the fee profile); a life-support MCC always gets ICU hours or ventilation.
        At most 120 ICU hours in at least 7 days (OUT-ICU-001 looks at 168 hours, DQ-005 at the stay)."""
        rng = self.rng
        ev = self.catalog.evidence
        stay.days = max(stay.days, rng.randint(7, 12))
        if rng.random() < 0.6 or not ev.needs_lab(mcc_code):
            stay.icu = rng.randint(24, 120)
        if mcc_code.startswith("J96") and rng.random() < 0.4:
            stay.vent = rng.randint(12, 72)
            stay.icu = max(stay.icu, stay.vent + rng.randint(12, 48))
            stay.procedures += [ev.intubation, rng.choice(ev.ventilation)]
        elif mcc_code.startswith("N17") and rng.random() < 0.4:
            stay.procedures.append(ev.dialysis)

    # --- dates ----------------------------------------------------------------------------------------

    def schedule(
        self,
        stays: list[Stay],
        gap: tuple[int, int],
        *,
        spread: bool = False,
        earliest: date | None = None,
        latest: date | None = None,
    ) -> list[Stay]:
        """Date the stays in order, each admitted `gap` days (a range) after the previous discharge.

        Stays that do not fit before the end of the year are dropped from the end. The first admission
        falls at random between `earliest` (default 1 January) and `latest`; with `spread` the rest of
        the year's slack is also spread at random between the stays (so `gap` is a minimum).
        """
        rng = self.rng
        start = earliest or self.province.start
        room = (self.province.end - start).days
        gaps = [rng.randint(*gap) for _ in stays[1:]]
        while stays and sum(s.days for s in stays) + sum(gaps[: len(stays) - 1]) > room:
            stays = stays[:-1]
        if not stays:
            return []
        gaps = gaps[: len(stays) - 1]
        slack = room - sum(s.days for s in stays) - sum(gaps)
        if spread:
            cuts = sorted(rng.randint(0, slack) for _ in stays)
        else:
            first = slack if latest is None else max(0, min(slack, (latest - start).days))
            cuts = [rng.randint(0, first)] * len(stays)
        day = start + timedelta(days=cuts[0])
        for i, stay in enumerate(stays):
            if i:
                day = stays[i - 1].discharge + timedelta(days=gaps[i - 1] + cuts[i] - cuts[i - 1])
            stay.admit = day
        return stays

    # --- hospitals ------------------------------------------------------------------------------------

    def allowed(self, hospital: Hospital, admit: date, cross: bool) -> bool:
        """Whether an ordinary (not coaching-period) stay may be at this hospital on this day."""
        if admit < hospital.designated_on:
            return False
        if cross and hospital.role in (NEW_HOSPITAL, NEW_REGIONAL_CENTER):
            return (admit - hospital.designated_on).days >= COACHING_GUARD_DAYS
        return True

    def has_peer(self, hospital: Hospital, stay: Stay) -> bool:
        """Whether another hospital of the same level in the stay's region may take it (a lateral transfer)."""
        assert stay.admit is not None
        return any(
            h is not hospital
            and h.region == stay.region
            and h.level == hospital.level
            and h.level >= stay.pathway.min_level
            and self.allowed(h, stay.admit, stay.cross_region)
            for h in self.province.hospitals
        )

    def place(
        self,
        stay: Stay,
        *,
        also: Sequence[Stay] = (),
        avoid: Hospital | None = None,
        levels: tuple[int, int] = (1, 3),
    ) -> Hospital:
        """Choose the stay's hospital (and set it on `also`, which must be allowed there too).

        `levels` bounds the hospital level (the pathway's minimum level applies too)."""
        rng = self.rng
        assert stay.admit is not None
        cross = stay.cross_region
        min_level = max(stay.pathway.min_level, levels[0])
        dates = [stay.admit] + [s.admit for s in also if s.admit is not None]

        def ok(h: Hospital) -> bool:
            return (
                h is not avoid
                and min_level <= h.level <= levels[1]
                and all(self.allowed(h, d, cross) for d in dates)
            )

        hospital = stay.patient.preferred.get(stay.region)
        if hospital is None or not ok(hospital) or rng.random() < 0.3:
            hospitals, cum = self._candidate_list(stay.region, min_level, cross)
            for _ in range(20):
                i = bisect.bisect_right(cum, rng.random() * cum[-1])
                hospital = hospitals[min(i, len(hospitals) - 1)]
                if ok(hospital):
                    break
            else:
                hospital = next(h for h in hospitals if ok(h))
            stay.patient.preferred.setdefault(stay.region, hospital)
        for s in (stay, *also):
            s.hospital = hospital
        return hospital

    def _candidate_list(self, region: str, min_level: int, cross: bool) -> tuple[list[Hospital], list[float]]:
        key = (region, min_level, cross)
        found = self._candidates.get(key)
        if found is None:
            volume = self.province.level_volume_cross if cross else self.province.level_volume
            hospitals = [h for h in self.province.hospitals if h.region == region and h.level >= min_level]
            cum = list(itertools.accumulate(h.volume * volume[h.level] for h in hospitals))
            found = self._candidates[key] = (hospitals, cum)
        return found
