"""Boundary look-alikes: claims just below, exactly at and just above each threshold of the rules, and at
their exemptions, with the values taken from the loaded rule pack (each claim's treatment region's
parameters and payment settings), so the detection bench measures where each threshold sits.

A boundary unit is one patient's stays around one threshold at one position: -1 (one step below), 0
(exactly at it), +1 (one step above). Its truth row says `planted` when the rule, as the pack states it,
fires there and `lookalike` when it does not; every such note starts with BOUNDARY_NOTE. Exemption units
meet a rule's conditions and its `unless` (look-alikes). Steps: a day, an hour, a cent, 0.01 of a share
or of a cost ratio, one admission.

Covered: LOS-001, OUT-ICU-001, COACH-001 (both ends of the coaching period), DQ-006, DQ-005, COST-001,
LOWADM-001 (tests share and length of stay; exemption: emergency admission), GHOST-001 (fees besides bed
and nursing a day, length of stay; exemptions: death, hospice), OUT-HIGH-001, OUT-EXT-001,
OUT-LOW-001 (exemption: transferred out), OUT-DEATH-001, UPC-001 (lab fee; exemption: death), SPLIT-001
and SPLIT-003 (days between the stays), per-diem stays: LOS-002, LOS-003, LOS-004 and LOS-005
(length; exemption of LOS-005: hospice) and SPLIT-004 (days between the stays), SEV-001 (length of stay; exemptions: an upward transfer from a hospital below
`transfer_level`, a discharge on medical advice), FREQ-001, FREQ-002 and FREQ-003 (the admission before
the one that counts, in `Scenarios.frequent` and `Scenarios.per_diem_frequent`). Not covered: UPC-004, a
hospital-level indicator (a percentile among hospitals, not a value of one claim); SEV-001's group weight.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from drgaudit.demo.coding import NONE
from drgaudit.demo.stays import Stay
from drgaudit.engine.evaluate import compare
from drgaudit.engine.functions import add_calendar_months
from drgaudit.engine.pack import RulePack

if TYPE_CHECKING:
    from drgaudit.demo.scenarios import Scenarios, Unit

BOUNDARY_NOTE = "边界"
POSITIONS = (-1, 0, 1)
# Boundary scenarios and the claims of one unit.
BOUNDARY_CLAIMS: dict[str, int] = {
    "b_long_stay": 1,
    "b_long_icu": 1,
    "b_coaching_end": 1,
    "b_coaching_start": 1,
    "b_newborn": 1,
    "b_icu_over_stay": 1,
    "b_cost_shift": 1,
    "b_lab_exam": 1,
    "b_short_stay": 1,
    "b_care_daily": 1,
    "b_care_days": 1,
    "b_high_ratio": 1,
    "b_extreme_ratio": 1,
    "b_low_ratio": 1,
    "b_death_ratio": 1,
    "b_lab_fee": 1,
    "b_split_gap": 2,
    "b_transfer_gap": 2,
    "b_severe_stay": 1,
    "b_psychiatric_stay": 1,
    "b_rehabilitation_stay": 1,
    "b_hospice_stay": 1,
    "b_other_per_diem_stay": 1,
    "b_per_diem_gap": 2,
}
# Exemption look-alikes (one unit each per repeat; position unused).
EXEMPTION_CLAIMS: dict[str, int] = {
    "x_emergency_low_standard": 1,
    "x_death_hardly_any_care": 1,
    "x_hospice_hardly_any_care": 1,
    "x_hospice_past_other_limit": 1,
    "x_transfer_low_ratio": 1,
    "x_death_upcoding": 1,
    "x_chemotherapy_without_procedure": 1,
    "x_severe_transfer_up": 1,
    "x_severe_advised_discharge": 1,
}
# Tries to find a group whose average cost makes a cost ratio land exactly on a threshold.
EXACT_TRIES = 200


class PackValues:
    """Parameters and payment settings of the loaded pack, as they apply in one treatment region."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self._params: dict[tuple[str, str], dict[str, Any]] = {}

    def param(self, rule_id: str, name: str, region: str) -> Any:
        key = (rule_id, region)
        if key not in self._params:
            bound = next((b for b in self.pack.bound_rules(region) if b.rule.id == rule_id), None)
            self._params[key] = dict(bound.params) if bound else {}
        return self._params[key].get(name)

    def enabled(self, rule_id: str, region: str) -> bool:
        return any(b.rule.id == rule_id for b in self.pack.bound_rules(region))

    def ratio_limits(self, region: str, weight: float) -> tuple[float, float, float]:
        """(low, high, extreme) DRG cost-ratio limits of a region for a group of this weight."""
        settings = self.pack.region(region).typed
        high, _ = settings.high_ratio_for(weight)
        return float(settings.drg_low_ratio), float(high), float(settings.drg_extreme_ratio)


def _kind(fires: bool) -> str:
    from drgaudit.demo.scenarios import LOOKALIKE, PLANTED

    return PLANTED if fires else LOOKALIKE


def _truth(index: int, rule: str, fires: bool, note: str) -> Any:
    from drgaudit.demo.scenarios import Truth

    return Truth(index, rule, _kind(fires), f"{BOUNDARY_NOTE}：{note}")


def _unit(stays: list[Stay], truths: list[Any]) -> Unit:
    from drgaudit.demo.scenarios import Unit

    return Unit(stays, truths)


def _whole(value: float) -> str:
    return f"{value:g}"


class Boundaries:
    """Builds boundary and exemption units with the scenarios' stay factory and the pack's values."""

    def __init__(self, scenarios: Scenarios, pack: RulePack) -> None:
        self.s = scenarios
        self.f = scenarios.f
        self.rng = scenarios.rng
        self.values = PackValues(pack)

    def builders(self) -> dict[str, Callable[[int], Unit]]:
        return {name: getattr(self, name) for name in (*BOUNDARY_CLAIMS, *EXEMPTION_CLAIMS)}

    # --- helpers ---------------------------------------------------------------------------------------

    def _drg(self, *, level: int | None = NONE, templates: Any = None) -> Stay:
        """A dated, placed ordinary DRG stay (no complications unless asked)."""
        template, patient = self.s._patient(templates or self.s._drg_templates)
        stay = self.f.draft(patient, template, self.f.treatment_region(patient), level=level)
        return stay

    def _place(self, stay: Stay) -> Stay:
        self.f.place(self.s._single(stay))
        return stay

    def _param(self, rule: str, name: str, stay: Stay) -> Any:
        return self.values.param(rule, name, stay.region)

    def _total_at(self, stay: Stay, ratio: float, *, exact: bool) -> float | None:
        """Set the stay's total cost to `ratio` × its group's average; returns the ratio the engine will
        compute from the two amounts (None when `exact` and it cannot be exactly `ratio`)."""
        entry = self.f.groups.entry(stay.region, stay.group)
        avg_cents = round(entry.avg_cost * 100)
        total = round(avg_cents * ratio)
        actual = (total / 100) / (avg_cents / 100)
        if total <= 0 or (exact and actual != ratio):
            return None
        stay.total_cents = total
        return actual

    def _ratio_stay(
        self, ratio_of: Callable[[Stay], float | None], *, exact: bool, **draft: Any
    ) -> tuple[Stay, float] | None:
        """A stay whose total cost is `ratio_of(stay)` × its group's average (exactly, with `exact`; else to
        the fen), and that ratio as the engine will compute it."""
        for _ in range(EXACT_TRIES):
            stay = self._drg(**draft)
            ratio = ratio_of(stay)
            actual = None if ratio is None else self._total_at(stay, round(ratio, 10), exact=exact)
            if actual is not None:
                return stay, actual
        return None

    def _limits(self, stay: Stay) -> tuple[float, float, float]:
        entry = self.f.groups.entry(stay.region, stay.group)
        return self.values.ratio_limits(stay.region, round(entry.weight, 4))

    # --- length of stay, hours, days, age --------------------------------------------------------------

    def b_long_stay(self, pos: int) -> Unit:
        """LOS-001 `los_days >= max_los_days`: a stay of threshold − 1, threshold, threshold + 1 days."""
        stay = self.s.new_stay(self.s.catalog.scenario_templates("long_stay"))
        limit = int(self._param("LOS-001", "max_los_days", stay))
        stay.days = limit + pos
        stay.cost_factor = self.rng.uniform(1.25, 1.9)
        self._place(stay)
        fires = compare(">=", stay.los, limit)
        return _unit([stay], [_truth(0, "LOS-001", fires, f"住院{stay.los}天（标准{limit}天）")])

    def b_long_icu(self, pos: int) -> Unit:
        """OUT-ICU-001 `icu_hours >= min_icu_hours`: one hour below, at, one hour above."""
        stay = self.s.new_stay(self.s.catalog.scenario_templates("icu"))
        limit = float(self._param("OUT-ICU-001", "min_icu_hours", stay))
        stay.icu = int(limit) + pos
        stay.days = min(39, max(stay.days, -(-stay.icu // 24) + self.rng.randint(1, 6)))
        stay.cost_factor = self.rng.uniform(1.3, 1.85)
        self._place(stay)
        fires = compare(">=", stay.icu, limit)
        return _unit(
            [stay], [_truth(0, "OUT-ICU-001", fires, f"重症监护{stay.icu}小时（标准{_whole(limit)}小时）")]
        )

    def _coaching_stay(self, discharge: date, stay: Stay | None = None) -> tuple[Stay, date, date]:
        """A cross-region stay at the newly designated hospital discharged on `discharge` (kept short, so that
        it ends within the claim year); also the first day after its coaching period."""
        hospital = self.f.new_hospital
        stay = stay or self.s._in_new_hospital(hospital)
        stay.days = min(stay.days, 20)
        stay.admit = discharge - timedelta(days=stay.days)
        months = int(self._param("COACH-001", "coaching_months", stay))
        return stay, discharge, add_calendar_months(hospital.designated_on, months)

    def b_coaching_end(self, pos: int) -> Unit:
        """COACH-001 `discharge_date < add_months(designated_on, coaching_months)`: discharged on the last day
        of the period, on the day after it, a day later."""
        hospital = self.f.new_hospital
        probe = self.s._in_new_hospital(hospital)
        months = int(self._param("COACH-001", "coaching_months", probe))
        end = add_calendar_months(hospital.designated_on, months)
        stay, discharge, end = self._coaching_stay(end + timedelta(days=pos), probe)
        fires = hospital.designated_on <= discharge < end
        note = f"新定点{hospital.designated_on}，{discharge}出院（辅导期{months}个月，至{end - timedelta(days=1)}止）"
        return _unit([stay], [_truth(0, "COACH-001", fires, note)])

    def b_coaching_start(self, pos: int) -> Unit:
        """COACH-001 `discharge_date >= designated_on`: discharged the day before designation, on it, after."""
        hospital = self.f.new_hospital
        stay, discharge, end = self._coaching_stay(hospital.designated_on + timedelta(days=pos))
        fires = hospital.designated_on <= discharge < end
        note = f"定点日期（{hospital.designated_on}）前后：{discharge}出院"
        return _unit([stay], [_truth(0, "COACH-001", fires, note)])

    def b_newborn(self, pos: int) -> Unit:
        """DQ-006 `age_days <= max_age_days`: a newborn without birth weight a day younger, as old, a day older."""
        stay = self.s.new_stay(self.s.catalog.scenario_templates("newborn"))
        limit = int(self._param("DQ-006", "max_age_days", stay))
        self._place(stay)
        age = limit + pos
        stay.patient.birth = stay.admitted - timedelta(days=age)
        stay.patient.newborn_weight = self.rng.randint(2500, 4200)
        stay.blank_weight = True
        fires = compare("<=", age, limit)
        return _unit([stay], [_truth(0, "DQ-006", fires, f"出生{age}天的新生儿无出生体重（标准{limit}天）")])

    def b_icu_over_stay(self, pos: int) -> Unit:
        """DQ-005 `icu_hours > los_days * 24`: ICU hours one under, equal to, one over the stay's hours."""
        stay = self._drg()
        stay.days = self.rng.randint(1, 5)
        stay.icu = stay.los * 24 + pos
        self._place(stay)
        fires = stay.icu > stay.los * 24
        note = f"重症监护{stay.icu}小时，住院{stay.los}天（{stay.los * 24}小时）"
        return _unit([stay], [_truth(0, "DQ-005", fires, note)])

    # --- shares of the cost ---------------------------------------------------------------------------

    def b_cost_shift(self, pos: int) -> Unit:
        """COST-001 `self_share >= max_self_share`: self-paid share 0.01 below, exactly at, 0.01 above."""
        stay = self._drg()
        limit = float(self._param("COST-001", "max_self_share", stay))
        share = round(limit + pos * 0.01, 4)
        entry = self.f.groups.entry(stay.region, stay.group)
        # Whole yuan, so that share × total is a whole number of fen and the share is exact.
        stay.total_cents = round(entry.avg_cost * self.rng.uniform(0.7, 1.3)) * 100
        stay.shift, stay.outside = share, 0.0
        self._place(stay)
        fires = compare(">=", share, limit)
        return _unit([stay], [_truth(0, "COST-001", fires, f"个人自费占{share:.0%}（标准{limit:.0%}）")])

    def _low_standard(self) -> Stay:
        stay = self.s.clinic_stay("low_standard")
        entry = self.f.groups.entry(stay.region, stay.group)
        # A multiple of 100 yuan: lab + exam = share × total is then a whole number of yuan.
        stay.total_cents = max(1, round(entry.avg_cost * self.rng.uniform(0.4, 0.75) / 100)) * 10_000
        stay.exact_lab_exam = True
        return stay

    def b_lab_exam(self, pos: int) -> Unit:
        """LOWADM-001 `lab_exam_share >= min_lab_exam_share`: tests 0.01 below, at, 0.01 above the share."""
        stay = self._low_standard()
        limit = float(self._param("LOWADM-001", "min_lab_exam_share", stay))
        days = int(self._param("LOWADM-001", "max_los_days", stay))
        stay.days = self.rng.randint(1, days)
        stay.lab_exam = round(limit + pos * 0.01, 4)
        self._place(stay)
        fires = compare(">=", stay.lab_exam, limit)
        note = f"住院{stay.los}天，检验检查费占{stay.lab_exam:.0%}（标准{limit:.0%}）"
        return _unit([stay], [_truth(0, "LOWADM-001", fires, note)])

    def b_short_stay(self, pos: int) -> Unit:
        """LOWADM-001 `los_days <= max_los_days`: tests-heavy stays a day shorter, as long, a day longer."""
        stay = self._low_standard()
        days = int(self._param("LOWADM-001", "max_los_days", stay))
        limit = float(self._param("LOWADM-001", "min_lab_exam_share", stay))
        stay.days = days + pos
        stay.lab_exam = round(limit + 0.1, 4)
        self._place(stay)
        fires = compare("<=", stay.los, days)
        note = f"住院{stay.los}天（标准{days}天以内），检验检查费占{stay.lab_exam:.0%}"
        return _unit([stay], [_truth(0, "LOWADM-001", fires, note)])

    def b_care_daily(self, pos: int) -> Unit:
        """GHOST-001 `(case_cost - fee_bed - fee_nursing) / los_days <= max_daily_care_cost`: fees besides
        bed and nursing a cent a day below, exactly at, a cent a day above the limit (at it: whole yuan, so the
        engine's subtraction and division are exact)."""
        stay = self.s.hardly_any_care()
        days = int(self._param("GHOST-001", "min_los_days", stay))
        limit = float(self._param("GHOST-001", "max_daily_care_cost", stay))
        stay.days = self.rng.randint(days, days + 10)
        stay.care_cents = round(limit * 100) * stay.los + pos * stay.los
        self._place(stay)
        daily = stay.care_cents / stay.los / 100
        fires = compare("<=", daily, limit)
        note = f"住院{stay.los}天，除床位费、护理费外日均{daily:.2f}元（标准不超过{_whole(limit)}元）"
        return _unit([stay], [_truth(0, "GHOST-001", fires, note)])

    def b_care_days(self, pos: int) -> Unit:
        """GHOST-001 `los_days >= min_los_days`: hardly any care over a day fewer, as many, a day more."""
        stay = self.s.hardly_any_care()
        days = int(self._param("GHOST-001", "min_los_days", stay))
        limit = float(self._param("GHOST-001", "max_daily_care_cost", stay))
        stay.days = days + pos
        stay.care_cents = round(limit / 2) * 100 * stay.los
        self._place(stay)
        fires = compare(">=", stay.los, days)
        note = f"住院{stay.los}天（标准{days}天及以上），除床位费、护理费外日均{round(limit / 2)}元"
        return _unit([stay], [_truth(0, "GHOST-001", fires, note)])

    # --- cost ratios -----------------------------------------------------------------------------------

    def b_high_ratio(self, pos: int) -> Unit:
        """OUT-HIGH-001 `cost_ratio >= high_ratio_limit`: 0.01 below, exactly at, 0.01 above the limit."""
        found = self._ratio_stay(lambda stay: self._limits(stay)[1] + pos * 0.01, exact=pos == 0)
        stay, ratio = self._need(found, "OUT-HIGH-001")
        self._place(stay)
        high = self._limits(stay)[1]
        fires = compare(">=", ratio, high)
        note = f"费用为病组次均费用的{ratio:.2f}倍（高倍率标准{_whole(high)}倍）"
        return _unit([stay], [_truth(0, "OUT-HIGH-001", fires, note)])

    def b_extreme_ratio(self, pos: int) -> Unit:
        """OUT-EXT-001 `cost_ratio > extreme_ratio_limit`: 0.01 below, exactly at, 0.01 above (at or below
        the limit the case is a high-ratio one, OUT-HIGH-001)."""
        found = self._ratio_stay(lambda stay: self._limits(stay)[2] + pos * 0.01, exact=pos == 0)
        stay, ratio = self._need(found, "OUT-EXT-001")
        self._place(stay)
        _, high, extreme = self._limits(stay)
        fires = compare(">", ratio, extreme)
        note = f"费用为病组次均费用的{ratio:.2f}倍（极端费用标准：超过{_whole(extreme)}倍）"
        truths = [_truth(0, "OUT-EXT-001", fires, note)]
        if not fires and ratio >= high:
            truths.append(_truth(0, "OUT-HIGH-001", True, note + "，按高倍率病例处理"))
        return _unit([stay], truths)

    def b_low_ratio(self, pos: int) -> Unit:
        """OUT-LOW-001 `cost_ratio <= low_ratio_limit`: 0.01 below, exactly at, 0.01 above the limit."""
        found = self._ratio_stay(lambda stay: self._limits(stay)[0] + pos * 0.01, exact=pos == 0)
        stay, ratio = self._need(found, "OUT-LOW-001")
        stay.days = self.rng.randint(2, 4)
        self._place(stay)
        low = self._limits(stay)[0]
        fires = compare("<=", ratio, low)
        note = f"费用仅为病组次均费用的{ratio:.2f}倍（低倍率标准{_whole(low)}倍），医嘱离院"
        return _unit([stay], [_truth(0, "OUT-LOW-001", fires, note)])

    def b_death_ratio(self, pos: int) -> Unit:
        """OUT-DEATH-001 `cost_ratio >= min_ratio`: deaths after intensive care 0.01 below, at, 0.01 above."""

        def ratio_of(stay: Stay) -> float | None:
            minimum = float(self._param("OUT-DEATH-001", "min_ratio", stay)) + pos * 0.01
            return minimum if minimum < self._limits(stay)[1] else None  # not a high-ratio case too

        found = self._ratio_stay(
            ratio_of, exact=pos == 0, templates=self.s.catalog.scenario_templates("death"), level=None
        )
        stay, ratio = self._need(found, "OUT-DEATH-001")
        stay.days = max(stay.days, 2)
        stay.icu = max(stay.icu, self.rng.randint(12, min(stay.los * 24, 120)))
        stay.mode, stay.route = "5", "1"
        self._place(stay)
        minimum = float(self._param("OUT-DEATH-001", "min_ratio", stay))
        fires = compare(">=", ratio, minimum)
        note = f"抢救{stay.icu}小时后死亡，费用为病组次均费用的{ratio:.2f}倍（标准{_whole(minimum)}倍）"
        return _unit([stay], [_truth(0, "OUT-DEATH-001", fires, note)])

    @staticmethod
    def _need(found: tuple[Stay, float] | None, rule: str) -> tuple[Stay, float]:
        if found is None:
            raise AssertionError(f"{rule}: no group of the demo lets a cost ratio land exactly on the limit")
        return found

    # --- per-diem (按床日) stays ------------------------------------------------------------------------

    def _per_diem_stay(self, dept: str, pos: int) -> Unit:
        """LOS-002/LOS-003 `los_days >= max_los_days`: a per-diem stay of the department a day shorter than,
        as long as, a day longer than the department's limit."""
        stay, rule, limit = self.s.long_per_diem(dept, over=pos)
        fires = compare(">=", stay.los, limit)
        return _unit([stay], [_truth(0, rule, fires, f"按床日住院{stay.los}天（{dept}科室标准{limit}天）")])

    def b_psychiatric_stay(self, pos: int) -> Unit:
        """LOS-002: psychiatric per-diem stays around the limit."""
        return self._per_diem_stay("A15", pos)

    def b_rehabilitation_stay(self, pos: int) -> Unit:
        """LOS-003: rehabilitation per-diem stays around the limit."""
        return self._per_diem_stay("A21", pos)

    def b_hospice_stay(self, pos: int) -> Unit:
        """LOS-004: hospice per-diem stays around the limit."""
        return self._per_diem_stay("A24", pos)

    def b_other_per_diem_stay(self, pos: int) -> Unit:
        """LOS-005: per-diem stays of another department (geriatrics) around the limit."""
        return self._per_diem_stay("A03.09", pos)

    def b_per_diem_gap(self, pos: int) -> Unit:
        """SPLIT-004 `admit_date - earlier.discharge_date <= window_days`: a per-diem patient readmitted to the
        same hospital and department a day before, on, a day after the end of the window."""
        first, second, window = self.s.per_diem_pair(offset=pos)
        gap = second.days_after(first)
        fires = compare("<=", gap, window)
        note = f"按床日住院出院{gap}天后同院同科再入院（窗口{window}天，前次 {{0}}）"
        return _unit([first, second], [_truth(1, "SPLIT-004", fires, note)])

    # --- severe cases leaving early (推诿重症、强制出院) ---------------------------------------------------

    def b_severe_stay(self, pos: int) -> Unit:
        """SEV-001 `los_days <= max_los_days`: a severe case leaving against advice a day before, on, a day
        after the limit."""
        stay = self.s.severe_stay()
        limit = int(self._param("SEV-001", "max_los_days", stay))
        stay.days = max(1, limit + pos)
        stay.mode = "4"
        self._place(stay)
        fires = compare("<=", stay.los, limit)
        note = f"重症病例（{stay.group}）入院{stay.los}天非医嘱离院（标准{limit}天以内）"
        return _unit([stay], [_truth(0, "SEV-001", fires, note)])

    def x_severe_transfer_up(self, _pos: int) -> Unit:
        """SEV-001 reviews transfers out of hospitals of level `transfer_level` and above only: a severe case
        transferred up, within the limit, by a hospital below that level."""
        stay = self.s.severe_stay(max_hospital_level=2)
        level = int(self._param("SEV-001", "transfer_level", stay))
        limit = int(self._param("SEV-001", "max_los_days", stay))
        stay.days = self.rng.randint(1, limit)
        stay.mode = "2"
        self.s._single(stay)
        hospital = self.f.place(stay, levels=(1, max(1, level - 1)))
        fires = level <= hospital.level  # only when the pack reviews transfers out of every level
        note = f"重症病例（{stay.group}）入院{stay.los}天由{hospital.level}级医院上转（转出医院低于{level}级，豁免）"
        return _unit([stay], [_truth(0, "SEV-001", fires, note)])

    def x_severe_advised_discharge(self, _pos: int) -> Unit:
        """SEV-001 looks at departures against advice and transfers: a severe case discharged on medical advice
        within the limit."""
        stay = self.s.severe_stay()
        limit = int(self._param("SEV-001", "max_los_days", stay))
        stay.days = self.rng.randint(1, limit)
        stay.mode = "1"
        self._place(stay)
        note = f"重症病例（{stay.group}）入院{stay.los}天医嘱离院（非推诿，豁免）"
        return _unit([stay], [_truth(0, "SEV-001", False, note)])

    # --- upcoding evidence -----------------------------------------------------------------------------

    def b_lab_fee(self, pos: int) -> Unit:
        """UPC-001 `fee_lab < min_lab_fee`: a lab MCC (sepsis, kidney failure) with lab fees a fen under,
        exactly at, a fen over the evidence threshold, in a short cheap stay."""
        stay, mcc = self.s._unsupported_mcc("upcoding_lab", lab=True)
        limit = float(self._param("UPC-001", "min_lab_fee", stay))
        stay.lab_fee = round(limit + pos * 0.01, 2)
        fires = compare("<", stay.lab_fee, limit)
        note = f"{mcc}为MCC，化验费{stay.lab_fee:.2f}元（证据标准{_whole(limit)}元），住院{stay.los}天"
        return _unit([stay], [_truth(0, "UPC-001", fires, note)])

    # --- pairs of stays --------------------------------------------------------------------------------

    def b_split_gap(self, pos: int) -> Unit:
        """SPLIT-001 `admit_date - earlier.discharge_date <= window_days`: readmitted to the same hospital
        one day before, on, one day after the end of the window, same category."""
        template, patient = self.s._patient(self.s.catalog.scenario_templates("split"))
        first, second = self.s._related_pair(template, patient, gap=(1, 1))
        window = int(self.values.param("SPLIT-001", "window_days", first.region))
        gap = window + pos
        self.f.schedule([first, second], (gap, gap))
        self.f.place(first, also=[second])
        for stay in (first, second):
            stay.readmit = "1"
        fires = compare("<=", gap, window)
        note = f"出院{gap}天后同院再入院（窗口{window}天，前次 {{0}}）"
        return _unit([first, second], [_truth(1, "SPLIT-001", fires, note)])

    def b_transfer_gap(self, pos: int) -> Unit:
        """SPLIT-003 `admit_date - earlier.discharge_date <= window_days`: transferred out, admitted to a
        hospital of the same level one day before, on, one day after the end of the window."""
        template, patient = self.s._patient(self.s.catalog.scenario_templates("transfer"))
        first, second = self.s._related_pair(template, patient, max_level=2, gap=(0, 0))
        window = int(self.values.param("SPLIT-003", "window_days", first.region))
        gap = max(0, window + pos)
        self.f.schedule([first, second], (gap, gap))
        first_hospital = self.f.place(first, levels=(2, 3))
        if not self.f.has_peer(first_hospital, second):
            first_hospital = self.f.place(first, levels=(2, 2))  # two level-2 hospitals in every demo region
        self.f.place(second, avoid=first_hospital, levels=(first_hospital.level, first_hospital.level))
        first.mode, second.route = "2", "3"
        fires = compare("<=", gap, window)
        note = f"转院后{gap}天入住同级医院（窗口{window}天，前次 {{0}}）"
        return _unit([first, second], [_truth(1, "SPLIT-003", fires, note)])

    # --- exemptions --------------------------------------------------------------------------------------

    def x_emergency_low_standard(self, _pos: int) -> Unit:
        """LOWADM-001 exempts emergency admissions: a short, tests-heavy stay admitted as an emergency."""
        stay = self._low_standard()
        days = int(self._param("LOWADM-001", "max_los_days", stay))
        limit = float(self._param("LOWADM-001", "min_lab_exam_share", stay))
        stay.days = self.rng.randint(1, days)
        stay.lab_exam = round(limit + 0.1, 4)
        stay.route = "1"
        self._place(stay)
        note = f"急诊入院，住院{stay.los}天，检验检查费占{stay.lab_exam:.0%}"
        return _unit([stay], [_truth(0, "LOWADM-001", False, note)])

    def x_transfer_low_ratio(self, _pos: int) -> Unit:
        """OUT-LOW-001 exempts transfers out: a low-ratio stay discharged as a transfer to another hospital."""
        found = self._ratio_stay(lambda stay: self._limits(stay)[0] - 0.05, exact=False)
        stay, ratio = self._need(found, "OUT-LOW-001")
        stay.days = self.rng.randint(1, 3) + 2  # 3-5 days: a transfer out on day 1-2 is SEV-001's concern
        stay.mode = "2"
        self._place(stay)
        note = f"费用为病组次均费用的{ratio:.2f}倍，但为医嘱转院（豁免）"
        return _unit([stay], [_truth(0, "OUT-LOW-001", False, note)])

    def _hardly_any_care_exempt(self, stay: Stay, *, mode: str) -> int:
        """Make `stay` an exempt GHOST-001 look-alike: min_los_days to 10 days more, half the daily limit (in
        whole yuan) besides bed and nursing, discharged by `mode`; placed. Returns that daily amount."""
        days = int(self._param("GHOST-001", "min_los_days", stay))
        daily = round(float(self._param("GHOST-001", "max_daily_care_cost", stay)) / 2)
        stay.days = days + self.rng.randint(0, 10)
        stay.care_cents = daily * 100 * stay.los
        stay.mode = mode
        self._place(stay)
        return daily

    def x_death_hardly_any_care(self, _pos: int) -> Unit:
        """GHOST-001 exempts deaths: a long stay with hardly any care besides nursing, the patient died."""
        stay = self.s.hardly_any_care()
        self._hardly_any_care_exempt(stay, mode="5")
        note = f"住院{stay.los}天几乎没有诊疗，但住院期间死亡（豁免）"
        return _unit([stay], [_truth(0, "GHOST-001", False, note)])

    def x_hospice_hardly_any_care(self, _pos: int) -> Unit:
        """GHOST-001 exempts hospice departments, whose care is mostly nursing: a per-diem hospice stay of
        min_los_days or more with half the daily limit besides bed and nursing, discharged alive."""
        stay = self.s.per_diem_stay("A24")
        daily = self._hardly_any_care_exempt(stay, mode="1")
        note = f"安宁疗护科按床日住院{stay.los}天，除床位费、护理费外日均{daily}元（安宁疗护豁免）"
        return _unit([stay], [_truth(0, "GHOST-001", False, note)])

    def x_hospice_past_other_limit(self, _pos: int) -> Unit:
        """LOS-005 leaves hospice stays to LOS-004: a per-diem hospice stay at least LOS-005's limit long and,
        where the region allows it, shorter than LOS-004's (then LOS-004 does not fire either)."""
        stay = self.s.per_diem_stay("A24")
        other = int(self._param("LOS-005", "max_los_days", stay))
        own = int(self._param("LOS-004", "max_los_days", stay))
        stay.days = self.rng.randint(other, max(other, own - 1))
        self._place(stay)
        note = f"安宁疗护科按床日住院{stay.los}天，达到其他科室标准{other}天（适用安宁疗护标准{own}天）"
        truths = [_truth(0, "LOS-005", False, note)]
        if stay.los >= own:
            truths.append(_truth(0, "LOS-004", True, note))
        return _unit([stay], truths)

    def x_chemotherapy_without_procedure(self, _pos: int) -> Unit:
        """UPC-003 exempts the tumour-therapy groups (`lists.tumour_therapy_adrg`), which group by the principal
        diagnosis (Z51.1 化学治疗疗程), not by a procedure: a chemotherapy stay in its surgical-lettered group
        (RE1) with no procedure coded. It hits if the loaded pack's list leaves that group out."""
        stay = self.s.new_stay([self.s.catalog.template("chemotherapy")])
        stay.procedures = []
        self._place(stay)
        exempt = self.values.pack.lists["tumour_therapy_adrg"].contains(stay.group[:3])
        note = f"化学治疗病组{stay.group}未编码手术操作（肿瘤治疗病组按主要诊断入组，豁免）"
        return _unit([stay], [_truth(0, "UPC-003", not exempt, note)])

    def x_death_upcoding(self, _pos: int) -> Unit:
        """UPC-001 exempts deaths: an MCC without its lab evidence, short and cheap, the patient died."""
        stay, mcc = self.s._unsupported_mcc("upcoding_lab", lab=True)
        limit = float(self._param("UPC-001", "min_lab_fee", stay))
        stay.lab_fee = round(limit / 3, 2)
        stay.mode = "5"
        note = f"{mcc}为MCC且化验费不足，但抢救无效死亡（豁免）"
        return _unit([stay], [_truth(0, "UPC-001", False, note)])


def boundary_units(repeat: int) -> list[tuple[str, int, int]]:
    """(scenario, claims, position) of every boundary and exemption unit, `repeat` times each."""
    units: list[tuple[str, int, int]] = []
    for scenario, size in BOUNDARY_CLAIMS.items():
        for pos in POSITIONS:
            units += [(scenario, size, pos)] * repeat
    for scenario, size in EXEMPTION_CLAIMS.items():
        units += [(scenario, size, 0)] * repeat
    return units


def boundary_repeat(claims: int) -> int:
    """Units per scenario and position: 2, and one more per 25,000 claims."""
    return 2 + claims // 25_000


__all__ = ["BOUNDARY_NOTE", "Boundaries", "boundary_repeat", "boundary_units"]
