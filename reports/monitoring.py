"""Cost monitoring for a period: per-hospital indicators against the previous period, a watch list, and
the cost distribution of the busiest groups with their outliers.

Definitions (thresholds and N are report settings, `monitoring.*` in settings.yaml):
- A claim is in a period when its discharge date is (see `periods`); cross-region when its insured and
  treatment regions differ. Average cost per case = mean `total_cost`, separately for cross-region and
  local claims; growth = this period's average / the previous period's − 1, computed only when both
  periods have at least `min_cases` such claims.
- CMI = mean group weight of the hospital's DRG claims whose group is in the treatment region's table.
- CC/MCC share = among DRG claims in a severity-split group (last digit 1, 3 or 5), the share whose
  group claims a complication (1 with MCC, 3 with CC); groups ending in 9 are not split and not counted.
  The definition is `engine.indicators.cc_mcc_class`, the same that UPC-004's hospital indicators use.
- Readmission rate = share of the hospital's claims whose patient had been discharged from the same
  hospital at most `readmission_days` days before this admission (`engine.facts.previous_stays`, the
  same previous stay as the rule fact `days_since_prev_discharge_same_hospital`).
- Severe cases (推诿重症/强制出院, `engine.indicators.severe_shift_class` with SEV-001's params): the share of
  the hospital's DRG cases that are severe (group with MCC, or weight ≥ min_weight), its fall against the
  previous period (the same period last year for a year report), and the share of severe cases that left
  within max_los_days days against advice or were transferred out of a hospital of level ≥ transfer_level.
- Watch list: a hospital with enough cases whose cost growth, cross-region/local cost ratio, CMI growth,
  rise of the CC/MCC share, readmission rate, severe cases leaving early or fall of the severe share
  passes its `watch` threshold, with each reason named.
- Group distribution: for the `groups_shown` groups with most claims, quartiles of the cost, Tukey
  fences (Q1 − k×IQR, Q3 + k×IQR, k = `outlier_iqr_k`), the claims outside them as outliers, plotted
  as cost / the group's reference average cost.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from statistics import quantiles
from typing import Any

from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.engine.facts import previous_stays, sort_key
from drgaudit.engine.indicators import SevereRule, cc_mcc_class, severe_rule, severe_shift_class
from drgaudit.engine.loader import load_pack
from drgaudit.i18n import _
from drgaudit.reports import charts
from drgaudit.reports.config import ReportSettings, load_settings
from drgaudit.reports.document import REPORT_FORMATS, Column, Report, Sheet
from drgaudit.reports.errors import ReportError
from drgaudit.reports.formatting import growth, percent, points
from drgaudit.reports.labels import LEVEL_NAMES, Vocabulary
from drgaudit.reports.masking import Masker
from drgaudit.reports.periods import Period


@dataclass
class Indicators:
    """One hospital's (or the whole area's) indicators in one period."""

    cases: int = 0
    cross_cases: int = 0
    cross_cost: float = 0.0
    local_cost: float = 0.0
    drg_cases: int = 0
    weight_sum: float = 0.0
    split_cases: int = 0
    cc_mcc_cases: int = 0
    readmissions: int = 0
    severe_cases: int = 0
    severe_left: int = 0

    def add(
        self,
        cost: float,
        cross: bool,
        group: dict[str, Any] | None,
        split: bool,
        with_cc: bool,
        readmitted: bool,
        severe: tuple[bool, bool] = (False, False),
    ) -> None:
        """Count one claim: its cost, DRG weight, CC/MCC class (`cc_mcc_class`), readmission and whether it
        is a severe case that left early (`severe_shift_class`: severe, left)."""
        self.cases += 1
        if cross:
            self.cross_cases += 1
            self.cross_cost += cost
        else:
            self.local_cost += cost
        if group is not None:
            self.drg_cases += 1
            self.weight_sum += float(group["weight"])
        self.severe_cases += severe[0]
        self.severe_left += severe[1]
        if split:
            self.split_cases += 1
            self.cc_mcc_cases += with_cc
        self.readmissions += readmitted

    @property
    def local_cases(self) -> int:
        return self.cases - self.cross_cases

    @property
    def cross_avg(self) -> float | None:
        return self.cross_cost / self.cross_cases if self.cross_cases else None

    @property
    def local_avg(self) -> float | None:
        return self.local_cost / self.local_cases if self.local_cases else None

    @property
    def avg(self) -> float | None:
        return (self.cross_cost + self.local_cost) / self.cases if self.cases else None

    @property
    def cmi(self) -> float | None:
        return self.weight_sum / self.drg_cases if self.drg_cases else None

    @property
    def cc_mcc_share(self) -> float | None:
        return self.cc_mcc_cases / self.split_cases if self.split_cases else None

    @property
    def readmission_rate(self) -> float | None:
        return self.readmissions / self.cases if self.cases else None

    @property
    def severe_share(self) -> float | None:
        """Severe cases (`severe_shift_class`) among the DRG cases: a fall suggests severe patients turned away."""
        return self.severe_cases / self.drg_cases if self.drg_cases else None

    @property
    def severe_left_share(self) -> float | None:
        """Severe cases that left early (against advice, or transferred out) among the severe cases."""
        return self.severe_left / self.severe_cases if self.severe_cases else None


def _change(now: float | None, before: float | None, enough: bool) -> float | None:
    if not enough or now is None or not before:
        return None
    return now / before - 1


@dataclass
class HospitalRow:
    """A hospital's indicators this period and last, the changes, and why it is on the watch list."""

    hospital_id: str
    name: str
    level: str
    region: str
    now: Indicators
    before: Indicators
    min_cases: int
    reasons: list[str] = field(default_factory=list)

    @property
    def cross_growth(self) -> float | None:
        enough = min(self.now.cross_cases, self.before.cross_cases) >= self.min_cases
        return _change(self.now.cross_avg, self.before.cross_avg, enough)

    @property
    def local_growth(self) -> float | None:
        enough = min(self.now.local_cases, self.before.local_cases) >= self.min_cases
        return _change(self.now.local_avg, self.before.local_avg, enough)

    @property
    def cross_local_ratio(self) -> float | None:
        enough = min(self.now.cross_cases, self.now.local_cases) >= self.min_cases
        if not enough or self.now.cross_avg is None or not self.now.local_avg:
            return None
        return self.now.cross_avg / self.now.local_avg

    @property
    def cmi_growth(self) -> float | None:
        enough = min(self.now.drg_cases, self.before.drg_cases) >= self.min_cases
        return _change(self.now.cmi, self.before.cmi, enough)

    @property
    def cc_mcc_rise(self) -> float | None:
        if min(self.now.split_cases, self.before.split_cases) < self.min_cases:
            return None
        if self.now.cc_mcc_share is None or self.before.cc_mcc_share is None:
            return None
        return self.now.cc_mcc_share - self.before.cc_mcc_share

    @property
    def severe_share_drop(self) -> float | None:
        """How far the share of severe cases fell against the period before (positive: fewer severe cases)."""
        if min(self.now.drg_cases, self.before.drg_cases) < self.min_cases:
            return None
        if self.now.severe_share is None or self.before.severe_share is None:
            return None
        return self.before.severe_share - self.now.severe_share

    @property
    def severe_left_share(self) -> float | None:
        return self.now.severe_left_share if self.now.drg_cases >= self.min_cases else None


@dataclass
class GroupRow:
    """The cost distribution of one group in the period, with its outliers."""

    region: str
    region_name: str
    scheme: str
    group_code: str
    name: str
    reference: float | None
    cases: int
    mean: float
    q1: float
    median: float
    q3: float
    low_fence: float
    high_fence: float
    low: float
    high: float
    outliers: list[dict[str, Any]]


@dataclass
class _Tally:
    """Indicators per hospital and for the whole area, this period and the one before; group costs."""

    now: dict[str, Indicators] = field(default_factory=lambda: defaultdict(Indicators))
    before: dict[str, Indicators] = field(default_factory=lambda: defaultdict(Indicators))
    area_now: Indicators = field(default_factory=Indicators)
    area_before: Indicators = field(default_factory=Indicators)
    costs: dict[tuple[str, str, str], list[tuple[float, str, str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    regions: set[str] = field(default_factory=set)


def _readmitted(claims: list[dict[str, Any]], days: int) -> set[str]:
    """Claims whose patient left the same hospital at most `days` days before (engine.facts.previous_stays)."""
    by_patient: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for claim in claims:
        by_patient[claim["patient_id"]].append(claim)
    found: set[str] = set()
    for stays in by_patient.values():
        stays.sort(key=sort_key)
        for stay, (_prev, prev_same) in zip(stays, previous_stays(stays), strict=True):
            if prev_same is not None and (stay["admit_date"] - prev_same["discharge_date"]).days <= days:
                found.add(stay["claim_id"])
    return found


def _tally(
    claims: list[dict[str, Any]],
    period: Period,
    previous: Period,
    groups: dict[Any, dict[str, Any]],
    days: int,
    severe_by: tuple[SevereRule, dict[str, int | None]] | None = None,
) -> _Tally:
    tally = _Tally()
    readmitted = _readmitted(claims, days)
    for claim in claims:
        discharge, hospital, treatment = (
            claim["discharge_date"],
            claim["hospital_id"],
            claim["treatment_region"],
        )
        scheme, group_code, cost = claim["payment_scheme"], claim["group_code"], claim["total_cost"]
        if period.start <= discharge <= period.end:
            targets = (tally.now[hospital], tally.area_now)
            tally.regions.add(treatment)
            if scheme in ("DRG", "DIP") and group_code:
                tally.costs[(treatment, scheme, group_code)].append(
                    (cost, claim["claim_id"], claim["patient_id"], hospital)
                )
        elif previous.start <= discharge <= previous.end:
            targets = (tally.before[hospital], tally.area_before)
        else:
            continue
        weight = groups.get((treatment, "DRG", group_code)) if scheme == "DRG" and group_code else None
        split, with_cc = cc_mcc_class(scheme, group_code)
        severe = (False, False)
        if severe_by is not None:
            rule, levels = severe_by
            los = max(1, (discharge - claim["admit_date"]).days)
            severe = severe_shift_class(
                claim, float(weight["weight"]) if weight else None, levels.get(hospital), los, rule
            )
        for ind in targets:
            ind.add(
                cost,
                claim["insured_region"] != treatment,
                weight,
                split,
                with_cc,
                claim["claim_id"] in readmitted,
                severe,
            )
    return tally


def _hospital_table(
    tally: _Tally, hospitals: dict[str, dict[str, Any]], words: Vocabulary, watch: dict[str, float], days: int,
    min_cases: int,
) -> list[HospitalRow]:  # fmt: skip
    table: list[HospitalRow] = []
    for hospital_id in sorted(tally.now):
        info = hospitals.get(hospital_id, {})
        row = HospitalRow(
            hospital_id, info.get("name") or hospital_id, LEVEL_NAMES.get(str(info.get("level")), "—"),
            words.region(info.get("region")), tally.now[hospital_id], tally.before.get(hospital_id, Indicators()),
            min_cases,
        )  # fmt: skip
        checks: tuple[tuple[float | None, float, Callable[[float], str]], ...] = (
            (row.cross_growth, watch["cost_growth"], lambda v: f"异地次均费用增长{growth(v)}"),
            (row.local_growth, watch["cost_growth"], lambda v: f"本地次均费用增长{growth(v)}"),
            (row.cross_local_ratio, watch["cross_local_ratio"], lambda v: f"异地次均费用为本地的{v:.2f}倍"),
            (row.cmi_growth, watch["cmi_growth"], lambda v: f"CMI增长{growth(v)}"),
            (row.cc_mcc_rise, watch["cc_mcc_share_rise"], lambda v: f"CC/MCC病组占比上升{points(v)}"),
            (row.now.readmission_rate if row.now.cases >= min_cases else None, watch["readmission_rate"],
             lambda v: f"{days}天内再入院率{percent(v)}"),
            (row.severe_left_share, watch["severe_left_share"], lambda v: f"重症病例短期内非医嘱离院或转出{percent(v)}"),
            (row.severe_share_drop, watch["severe_share_drop"], lambda v: f"重症（高权重）病例占比下降{points(v).lstrip('+')}"),
        )  # fmt: skip
        row.reasons = [
            describe(value) for value, limit, describe in checks if value is not None and value > limit
        ]
        table.append(row)
    table.sort(key=lambda r: (-r.now.cases, r.hospital_id))
    return table


def _group_rows(
    tally: _Tally, groups: dict[Any, dict[str, Any]], hospitals: dict[str, dict[str, Any]], words: Vocabulary,
    masker: Masker, k: float,
) -> list[GroupRow]:  # fmt: skip
    group_rows: list[GroupRow] = []
    for key, values in tally.costs.items():
        if len(values) < 4:
            continue
        amounts = sorted(v[0] for v in values)
        q1, median, q3 = quantiles(amounts, n=4, method="inclusive")
        low_fence, high_fence = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
        inside = [a for a in amounts if low_fence <= a <= high_fence]
        entry = groups.get(key)
        reference = float(entry["avg_cost"]) if entry else None
        outliers: list[dict[str, Any]] = [
            {"claim_id": claim_id, "patient": masker.mask(patient), "hospital_id": hospital,
             "hospital": hospitals.get(hospital, {}).get("name") or hospital, "cost": amount,
             "ratio": amount / reference if reference else None, "side": "高" if amount > high_fence else "低"}
            for amount, claim_id, patient, hospital in values
            if amount < low_fence or amount > high_fence
        ]  # fmt: skip
        outliers.sort(key=lambda o: (-abs(o["cost"] - median), o["claim_id"]))
        group_rows.append(
            GroupRow(
                key[0],
                words.region(key[0]),
                key[1],
                key[2],
                (entry or {}).get("name") or "",
                reference,
                len(amounts),
                sum(amounts) / len(amounts),
                q1,
                median,
                q3,
                low_fence,
                high_fence,
                min(inside),
                max(inside),
                outliers,
            )  # fmt: skip
        )
    group_rows.sort(key=lambda g: (-g.cases, g.region, g.group_code))
    return group_rows


def build_monitoring(
    *,
    session: Session,
    period: Period,
    region: str | None = None,
    settings: ReportSettings | None = None,
    rules_dir: Path | None = None,
) -> Report:
    """The cost monitoring report of `period` (all treatment regions, or one)."""
    settings = settings or load_settings()
    words = Vocabulary.load(rules_dir, settings.get("region_names"))
    masker = Masker.from_settings(settings.get("masking"))
    days = int(settings.get("monitoring.readmission_days"))
    min_cases = int(settings.get("monitoring.min_cases"))
    watch = settings.get("monitoring.watch")
    previous = period.previous()

    earliest_admit = queries.earliest_admission(session=session, first=previous.start, last=period.end)
    if earliest_admit is None:
        raise ReportError(
            _("no claims discharged in {period} or the period before ({span})").format(
                period=period.label, span=previous.span
            )
        )
    first = min(previous.start, earliest_admit - dt.timedelta(days=days))
    claims = queries.claims_discharged_between(session=session, first=first, last=period.end, region=region)
    groups = queries.load_groups(session=session)
    hospitals = queries.load_hospitals(session=session)
    severe = severe_rule(load_pack(rules_dir))
    levels = {hid: int(h["level"]) if h.get("level") else None for hid, h in hospitals.items()}
    tally = _tally(claims, period, previous, groups, days, (severe, levels) if severe else None)
    if not tally.now:
        if region:
            raise ReportError(
                _("no claims discharged in {period} ({span}) in region {region}").format(
                    period=period.label, span=period.span, region=region
                )
            )
        raise ReportError(
            _("no claims discharged in {period} ({span})").format(period=period.label, span=period.span)
        )

    table = _hospital_table(tally, hospitals, words, watch, days, min_cases)
    watch_list = sorted((r for r in table if r.reasons), key=lambda r: (-len(r.reasons), r.hospital_id))
    area = HospitalRow("", "合计", "", "", tally.area_now, tally.area_before, min_cases)
    regions = tally.regions

    k = float(settings.get("monitoring.outlier_iqr_k"))
    listed = int(settings.get("monitoring.outliers_listed"))
    group_rows = _group_rows(tally, groups, hospitals, words, masker, k)
    shown = group_rows[: int(settings.get("monitoring.groups_shown"))]

    def ratio(value: float, g: GroupRow) -> float:
        assert g.reference, "only groups with a reference cost are plotted"
        return value / g.reference

    plotted = [g for g in shown if g.reference]
    box = charts.box_plot(
        [
            charts.BoxStats(
                f"{g.group_code} {g.name}",
                ratio(g.q1, g),
                ratio(g.median, g),
                ratio(g.q3, g),
                ratio(g.low, g),
                ratio(g.high, g),
                [o["cost"] / g.reference for o in g.outliers],
                1.0,
            )  # fmt: skip
            for g in plotted
        ],
        title="主要病组费用分布（费用 ÷ 病组次均费用）",
        axis_label="病例费用 ÷ 病组次均费用（虚线为 1 倍；红点为离群病例）",
    )
    busiest = table[:15]
    cost_chart = charts.paired_bar_chart(
        [(r.name, r.now.cross_avg, r.now.local_avg) for r in busiest],
        title="各医院次均费用：异地与本地（元）",
        legend=("省内异地", "本地"),
        label_width=250,
    )
    region_codes = sorted(regions)
    region_label = words.region(region_codes[0]) if len(region_codes) == 1 else f"{len(region_codes)}个统筹区"
    context = {
        "issuer": words.issuer(region_codes, settings.get("issuer")),
        "region_label": region_label,
        "period": period,
        "previous": previous,
        "hospitals": table,
        "area": area,
        "watch_list": watch_list,
        "watch": watch,
        "days": days,
        "min_cases": min_cases,
        "k": k,
        "groups": shown,
        "groups_total": len(group_rows),
        "outliers_listed": listed,
        "chart_costs": cost_chart,
        "chart_groups": box,
        "busiest": len(busiest),
    }

    def sheets() -> list[Sheet]:
        hospital_columns = [
            Column("医院编码", width=16), Column("医院名称", width=34), Column("等级", width=6), Column("统筹区", width=14),
            Column("病例数", "int", 9), Column("异地病例", "int", 9), Column("异地次均费用", "yuan", 13),
            Column("上期异地次均", "yuan", 13), Column("异地增长", "percent", 9), Column("本地次均费用", "yuan", 13),
            Column("上期本地次均", "yuan", 13), Column("本地增长", "percent", 9), Column("异地/本地", "decimal", 9),
            Column("CMI", "decimal", 8), Column("上期CMI", "decimal", 8), Column("CC/MCC占比", "percent", 10),
            Column("上期CC/MCC占比", "percent", 12), Column(f"{days}天再入院率", "percent", 11),
            Column("重症病例占比", "percent", 11), Column("上期重症占比", "percent", 11),
            Column("重症短期离院或转出", "percent", 13), Column("关注原因", width=60),
        ]  # fmt: skip

        def hospital_rows(rows: list[HospitalRow]) -> Iterator[tuple[Any, ...]]:
            for r in rows:
                yield (
                    r.hospital_id, r.name, r.level, r.region, r.now.cases, r.now.cross_cases, r.now.cross_avg, r.before.cross_avg,
                    r.cross_growth, r.now.local_avg, r.before.local_avg, r.local_growth, r.cross_local_ratio, r.now.cmi,
                    r.before.cmi, r.now.cc_mcc_share, r.before.cc_mcc_share, r.now.readmission_rate,
                    r.now.severe_share, r.before.severe_share, r.now.severe_left_share, "；".join(r.reasons),
                )  # fmt: skip

        group_columns = [
            Column("统筹区", width=14), Column("支付方式", width=8), Column("病组", width=8), Column("病组名称", width=30),
            Column("次均费用（标准）", "yuan", 14), Column("病例数", "int", 8), Column("平均费用", "yuan", 12),
            Column("Q1", "yuan", 12), Column("中位数", "yuan", 12), Column("Q3", "yuan", 12), Column("下围栏", "yuan", 12),
            Column("上围栏", "yuan", 12), Column("离群病例数", "int", 10),
        ]  # fmt: skip
        outlier_columns = [
            Column("病组", width=8), Column("统筹区", width=14), Column("结算清单号", width=16), Column("参保人（脱敏）", width=18),
            Column("医院编码", width=16), Column("医院名称", width=34), Column("费用（元）", "yuan", 13),
            Column("为次均费用的倍数", "decimal", 14), Column("高/低", width=6),
        ]  # fmt: skip
        return [
            Sheet("医院指标", hospital_columns, hospital_rows(table)),
            Sheet("关注名单", hospital_columns, hospital_rows(watch_list)),
            Sheet("病组费用分布", group_columns, (
                (g.region_name, g.scheme, g.group_code, g.name, g.reference, g.cases, round(g.mean, 2), g.q1,
                 g.median, g.q3, g.low_fence, g.high_fence, len(g.outliers)) for g in group_rows)),
            Sheet("离群病例", outlier_columns, (
                (g.group_code, g.region_name, o["claim_id"], o["patient"], o["hospital_id"], o["hospital"],
                 o["cost"], o["ratio"], o["side"]) for g in group_rows for o in g.outliers)),
        ]  # fmt: skip

    return Report(
        kind="monitoring",
        title="住院费用监测报告",
        template="monitoring.html.j2",
        context=context,
        sheets=sheets,
        formats=REPORT_FORMATS["monitoring"],
    )
