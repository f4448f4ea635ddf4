"""A chunk of claims as columns, and the facts the pre-filter reads, computed over those columns.

`screen --batch` reads each chunk of patients once, straight from SQL, as columns of the claim fields the
pre-filter needs (no Python dict per claim), over which `ColumnFacts` computes the facts the rules'
pre-filter reads with NumPy (claim fields, lengths of stay, cost ratios and ratio limits from the region
settings and group tables, code-table facts, the hospital facts and indicators, admissions per window
over each patient's sorted claims), so the pre-filter can pick its candidates; then only the
candidates' patients get canonical records, made from the rows read (`ClaimColumns.records`), and every
fact derived (`engine.facts`) before durable-rules decides their hits.

Soundness: every value here comes from the same functions as `engine.facts` (per distinct hospital,
group entry, code or code list), or from the same arithmetic on the same numbers (marked inexact, so the
pre-filter compares it with its tolerance). A fact this module does not compute (the payment estimate
and kind, the previous-stay facts, the placeholders of missing optional values a rule may test)
raises `Unsupported`, which makes the condition reading it keep every claim. The proof tests compare
both ways of building the facts (tests/test_prefilter.py).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Container, Hashable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any

import numpy as np

from drgaudit.contract import CLAIM_FIELDS, CROSS_PROVINCE, CROSS_REGION, LIST_SEPARATOR, region_relation
from drgaudit.engine.facts import ReferenceData, group_parts
from drgaudit.engine.prefilter import LISTS_OF_ITEMS, Col, Unsupported, build_column, distinct_items
from drgaudit.engine.vocabulary import DATE, FACTS, LIST, NUMBER, TEXT, ZERO_WHEN_MISSING

_EPOCH = dt.date(1970, 1, 1).toordinal()
CLAIM_KINDS: dict[str, str] = {f.name: FACTS[f.name].type for f in CLAIM_FIELDS}
_FEES = (
    "fee_drug",
    "fee_material",
    "fee_lab",
    "fee_exam",
    "fee_treatment",
    "fee_surgery",
    "fee_nursing",
    "fee_bed",
    "fee_other",
)
# What every chunk reads: the keys of a claim, its place in the patient's history, and its profile.
ALWAYS_READ = ("claim_id", "patient_id", "admit_date", "discharge_date", "treatment_region")
_REGIONS = ("insured_region", "treatment_region")
_GROUPING = ("payment_scheme", "group_code")
_PRICING = ("treatment_region", "payment_scheme", "group_code")
_HISTORY = ("admit_date",)
_ORDER = ("patient_id", "claim_id", "admit_date", "discharge_date")  # what `ClaimColumns._order` reads

# The claim fields each fact computed here needs (a claim field needs itself).
FACT_FIELDS: dict[str, tuple[str, ...]] = {
    "los_days": ("admit_date", "discharge_date"),
    "region_relation": _REGIONS,
    "is_cross_region": _REGIONS,
    "is_cross_province": _REGIONS,
    "dx_category": ("principal_dx",),
    "adrg": _GROUPING,
    "group_severity": _GROUPING,
    "is_ungroupable": _GROUPING,
    "group_type": _GROUPING,
    "secondary_dx_count": ("secondary_dx",),
    "procedure_count": ("procedures",),
    "mcc_codes": ("principal_dx", "secondary_dx"),
    "cc_codes": ("principal_dx", "secondary_dx"),
    "excluded_cc_codes": ("principal_dx", "secondary_dx"),
    "mcc_count": ("principal_dx", "secondary_dx"),
    "cc_count": ("principal_dx", "secondary_dx"),
    "unknown_code_count": ("principal_dx", "secondary_dx", "procedures"),
    "fee_total": ("total_cost", *_FEES),
    "case_cost": ("total_cost", "outside_purchase"),
    "self_share": ("total_cost", "self_expense", "outside_purchase"),
    "lab_exam_share": ("total_cost", "fee_lab", "fee_exam"),
    "drug_share": ("total_cost", "fee_drug"),
    "material_share": ("total_cost", "fee_material"),
    "days_since_designation": ("hospital_id", "admit_date"),
    "cost_ratio": (*_PRICING, "total_cost", "outside_purchase"),
    "los_ratio": (*_PRICING, "admit_date", "discharge_date"),
    "high_ratio_limit": _PRICING,
    "low_ratio_limit": _PRICING,
    "extreme_ratio_limit": _PRICING,
    "high_ratio_tier": _PRICING,
    "is_basic_disease_group": _PRICING,
    "payment_placeholder": ("treatment_region",),
    "admissions_90d": _HISTORY,
    "admissions_365d": _HISTORY,
}
_GROUP_KEYS: tuple[str, ...] = (
    "group__known",
    "group__name",
    "group__weight",
    "group__avg_cost",
    "group__avg_los",
    "group__siblings",
    "group__base_weight",
    "group__cc_weight",
)
for _key in _GROUP_KEYS:
    FACT_FIELDS[_key] = _PRICING
for _fact in FACTS.values():
    if _fact.key.startswith("hospital__"):
        FACT_FIELDS[_fact.key] = ("hospital_id",)


def fields_for(key: str) -> tuple[str, ...]:
    """The claim fields the column fact `key` needs (none when it is not computed here)."""
    if key in CLAIM_KINDS:
        return (key,)
    if key.startswith("@admissions:"):
        return _HISTORY
    return FACT_FIELDS.get(key, ())


def _dates(values: Sequence[Any]) -> np.ndarray:
    """Day numbers (`date.toordinal()`) of ISO texts or dates, as floats; missing is NaN."""
    if not any(v is None for v in values):
        days = np.array(values, dtype="datetime64[D]").astype(np.int64) + _EPOCH
        return days.astype(np.float64)
    result = np.full(len(values), np.nan)
    present = [i for i, v in enumerate(values) if v is not None]
    if present:
        result[present] = _dates([values[i] for i in present])
    return result


@dataclass
class ClaimColumns:
    """The claims of a chunk of patients as columns (stored values, one array per claim field read),
    ordered by patient and then as `engine.facts.sort_key` orders a patient's claims.

    Texts and code lists are object arrays (None when missing), numbers and dates (as day numbers)
    float arrays with NaN when missing; `target` marks the claims of the batch (the others are context).
    """

    values: dict[str, np.ndarray]
    target: np.ndarray
    n: int = 0
    seq: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    patient: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    # The rows as read, when the reader keeps them with `record` (a row's canonical claim record): the
    # candidates' claims are then made from them (`records`) instead of being read a second time.
    rows: Sequence[Sequence[Any]] | None = field(default=None, repr=False)
    record: Callable[[Sequence[Any]], dict[str, Any]] | None = field(default=None, repr=False)
    # Row i of the columns is rows[order[i]] (None: the rows were read in the columns' order).
    order: np.ndarray | None = field(default=None, repr=False)
    patient_at: int = 0  # where a row holds its patient id

    @classmethod
    def from_rows(
        cls,
        names: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        wanted: Container[str] | None = None,
        record: Callable[[Sequence[Any]], dict[str, Any]] | None = None,
        sort_rows: bool = False,
    ) -> ClaimColumns:
        """Rows of (the claim fields `names`..., is a batch claim); any row order. Only the fields in
        `wanted` (default: all) and those that order the rows become columns; with `record`, the rows
        are kept (see `records`), in the order read, or with `sort_rows` (rows read in no particular
        order) in the columns' order."""
        n = len(rows)
        raw = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(names) + 1)]
        values: dict[str, np.ndarray] = {}
        for name, column in zip(names, raw, strict=False):
            if wanted is not None and name not in wanted and name not in _ORDER:
                continue
            kind = CLAIM_KINDS[name]
            if kind == DATE:
                values[name] = _dates(column)
            elif kind == NUMBER:
                values[name] = np.array(column, dtype=np.float64) if n else np.zeros(0)
            else:
                array = np.empty(n, dtype=object)
                array[:] = column
                values[name] = array
        target = np.array(raw[len(names)], dtype=bool) if n else np.zeros(0, dtype=bool)
        columns = cls(values, target, n)
        if record is not None:
            columns.rows, columns.record, columns.patient_at = rows, record, list(names).index("patient_id")
        columns._order()
        if sort_rows and columns.order is not None:
            if columns.rows is not None:
                columns.rows = [rows[i] for i in columns.order.tolist()]
            columns.order = None
        return columns

    def _order(self) -> None:
        """Sort by patient, admission, discharge, claim id (as Python compares them), then number each
        patient's claims."""
        n = self.n
        pid, cid = self.values["patient_id"], self.values["claim_id"]
        admit, discharge = self.values["admit_date"], self.values["discharge_date"]
        if n > 1:
            same = pid[:-1] == pid[1:]
            later = (admit[:-1] < admit[1:]) | (
                (admit[:-1] == admit[1:])
                & (
                    (discharge[:-1] < discharge[1:])
                    | ((discharge[:-1] == discharge[1:]) & (cid[:-1] < cid[1:]))
                )
            )
            grouped = len(set(pid[np.flatnonzero(np.r_[True, ~same])].tolist())) == int((~same).sum()) + 1
            if not (grouped and bool(np.all(~same | later.astype(bool)))):
                keys = list(zip(pid.tolist(), admit.tolist(), discharge.tolist(), cid.tolist(), strict=True))
                order = np.array(sorted(range(n), key=keys.__getitem__), dtype=np.intp)
                self.values = {name: array[order] for name, array in self.values.items()}
                self.target = self.target[order]
                self.order = order
                pid = self.values["patient_id"]
        starts = np.r_[True, pid[:-1] != pid[1:]] if n else np.zeros(0, dtype=bool)
        self.patient = np.cumsum(starts) - 1
        first = np.flatnonzero(starts)
        self.seq = np.arange(n) - first[self.patient] if n else np.zeros(0, dtype=np.intp)

    def restrict_targets(self, keep: np.ndarray) -> None:
        """Keep as batch claims only the rows of `keep` (the others stay, as context)."""
        self.target = self.target & keep

    def records(
        self, patient_ids: Sequence[str]
    ) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] | None:
        """The claim records of these patients made from the rows kept (None when they were not), by
        patient: (its batch claims, its other claims), each in the order the rows were read, batch
        claims as `target` marks them now (after `restrict_targets`)."""
        if self.rows is None or self.record is None:
            return None
        found: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
            p: ([], []) for p in patient_ids
        }
        target = self.target
        if self.order is not None:  # the flags by row as read
            target = np.empty(self.n, dtype=bool)
            target[self.order] = self.target
        record, at = self.record, self.patient_at
        for row, is_target in zip(self.rows, target.tolist(), strict=True):
            lists = found.get(row[at])
            if lists is not None:
                lists[0 if is_target else 1].append(record(row))
        return found

    @property
    def target_count(self) -> int:
        return int(self.target.sum())

    def target_patients(self) -> list[str]:
        """The patients with a batch claim, in row order."""
        pid = self.values["patient_id"]
        rows = np.flatnonzero(self.target)
        return list(dict.fromkeys(pid[rows].tolist()))


class ColumnFacts:
    """The facts of a `ClaimColumns` as the pre-filter reads them (`Frame` source), computed on demand
    and once per chunk, against one screener's reference data."""

    def __init__(self, columns: ClaimColumns, ref: ReferenceData) -> None:
        self.columns = columns
        self.ref = ref
        self.n = columns.n
        self._cache: dict[str, Col] = {}
        self._lists: dict[str, np.ndarray] = {}
        self._groups: tuple[list[Any], np.ndarray] | None = None
        self._codes: dict[str, tuple[list[Any], np.ndarray]] = {}

    # ---- the Frame source protocol ------------------------------------------------------------
    def column(self, key: str, kind: str) -> Col:
        col = self._cache.get(key)
        if col is None:
            col = self._build(key)
            self._cache[key] = col
        if col.kind != kind:
            raise Unsupported(f"{key} read as {kind}")
        return col

    def _build(self, key: str) -> Col:
        if key in CLAIM_KINDS:
            return self._field(key)
        if key.startswith("@admissions:"):
            return self._admissions(int(key.split(":", 1)[1]))
        builder = _BUILDERS.get(key)
        if builder is None:
            prefix = key.split("__", 1)[0]
            builder = _BUILDERS.get(prefix + "__")
        if builder is None:
            raise Unsupported(key)
        builder(self)
        if key not in self._cache:
            raise Unsupported(key)
        return self._cache[key]

    # ---- helpers ------------------------------------------------------------------------------
    def raw(self, name: str) -> np.ndarray:
        """A claim field as read (raises Unsupported when the chunk was read without it)."""
        values = self.columns.values.get(name)
        if values is None:
            raise Unsupported(f"{name} not read")
        return values

    def _put(self, key: str, values: Any, valid: Any, kind: str, exact: bool = True) -> None:
        self._cache[key] = Col(values, valid, kind, exact)

    def _put_list(self, key: str, values: list[Any], kind: str) -> None:
        self._cache[key] = build_column(values, kind)

    def number(self, name: str) -> np.ndarray:
        """A number field as the facts have it: 0 for a missing amount, NaN for another missing number."""
        values = self.raw(name)
        return np.nan_to_num(values, nan=0.0) if name in ZERO_WHEN_MISSING else values

    def code_list(self, name: str) -> np.ndarray:
        """A code-list field as lists (split once per distinct text)."""
        lists = self._lists.get(name)
        if lists is None:
            texts = self.raw(name)
            lists = np.empty(self.n, dtype=object)
            lists[:] = self.per_distinct(texts.tolist(), lambda t: t.split(LIST_SEPARATOR) if t else [])
            self._lists[name] = lists
        return lists

    def code_items(self, name: str) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """A code-list field's codes over all rows, in row order: (the distinct codes, each code's position
        among them, each code's row). Factorised once per chunk, with the pre-filter's lookups in the same
        column (`prefilter.distinct_items` of the column `name`)."""
        shape, rows, distinct, where, owner = distinct_items(self.column(name, LIST), self.n)
        if shape == LISTS_OF_ITEMS:
            return distinct, where, rows[owner]
        lists = self.code_list(name).tolist()  # no row at all (every row of a code list is a list)
        lengths = np.fromiter(map(len, lists), dtype=np.intp, count=self.n)
        distinct, where = self.factorize(list(chain.from_iterable(lists)))
        return distinct, where, np.repeat(np.arange(self.n), lengths)

    def per_distinct(self, keys: Sequence[Hashable], compute: Callable[[Any], Any]) -> list[Any]:
        """compute(key) of every row's key, computed once per distinct key."""
        memo = dict.fromkeys(keys)
        for key in memo:
            memo[key] = compute(key)
        return list(map(memo.__getitem__, keys))

    def memo(self, name: str) -> dict[Any, Any]:
        """A memo named `name` kept with the reference data, across chunks: for values that depend only on
        a code or a group entry and the reference data (never on the claim)."""
        return self.ref.column_memo.setdefault(name, {})

    def codes(self, name: str) -> tuple[list[Any], np.ndarray]:
        """A claim field's `factorize`, worked out once per chunk (several facts group by a field)."""
        found = self._codes.get(name)
        if found is None:
            found = self._codes[name] = self.factorize(self.raw(name).tolist())
        return found

    def factorize_together(self, names: Sequence[str]) -> tuple[list[tuple[Any, ...]], np.ndarray]:
        """`factorize` of the rows' tuples of these fields' values (the same distinct tuples, in the same
        first-seen order, and positions), worked out from each field's `codes` with NumPy instead of a
        tuple per row hashed into a dict."""
        parts = [self.codes(name) for name in names]
        combined = np.zeros(self.n, dtype=np.int64)
        size = 1
        for distinct, rows in parts:
            size *= max(len(distinct), 1)
            combined = combined * len(distinct) + rows
        if size >= 2**62:  # the combined code could overflow: one tuple per row
            return self.factorize(list(zip(*(self.raw(name).tolist() for name in names), strict=True)))
        _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # the distinct tuples in the order first seen
        rank = np.empty(len(order), dtype=np.intp)
        rank[order] = np.arange(len(order))
        seen = first[order]
        columns = [[distinct[k] for k in rows[seen].tolist()] for distinct, rows in parts]
        return list(zip(*columns, strict=True)), rank[inverse.reshape(-1)]

    @staticmethod
    def factorize(keys: Sequence[Hashable]) -> tuple[list[Any], np.ndarray]:
        """The distinct keys (in first-seen order) and each row's position among them."""
        position = {key: k for k, key in enumerate(dict.fromkeys(keys))}
        rows = np.fromiter(map(position.__getitem__, keys), dtype=np.intp, count=len(keys))
        return list(position), rows

    @staticmethod
    def remembered(memo: dict[Any, Any], keys: Sequence[Hashable], compute: Callable[[Any], Any]) -> None:
        """Put compute(key) in `memo` for every key it lacks."""
        for key in dict.fromkeys(keys):
            if key not in memo:
                memo[key] = compute(key)

    def _put_spread(self, key: str, values: list[Any], kind: str, rows: np.ndarray) -> None:
        """A column built from one value per distinct key (`values`), spread to the rows (`rows`: each
        row's position among the distinct keys): the column `_put_list` builds from the values per row."""
        col = build_column(values, kind)
        self._put(key, np.asarray(col.values)[rows], np.asarray(col.valid)[rows], col.kind, col.exact)

    # ---- facts --------------------------------------------------------------------------------
    def _field(self, name: str) -> Col:
        kind = CLAIM_KINDS[name]
        if kind == LIST:
            lists = self.code_list(name)
            return Col(lists, np.ones(self.n, dtype=bool), LIST)
        values = self.raw(name)
        if kind in (NUMBER, DATE):
            if name in ZERO_WHEN_MISSING:
                return Col(np.nan_to_num(values, nan=0.0), np.ones(self.n, dtype=bool), kind)
            valid = ~np.isnan(values)
            return Col(np.where(valid, values, 0.0), valid, kind)
        return build_column(values.tolist(), kind)

    def _admissions(self, days: int) -> Col:
        """Admissions of the patient with an admission date in the `days` days up to this one's (this
        claim included, later rows of the same day not), as `engine.facts.add_history_facts` counts."""
        admit = self.raw("admit_date")
        key = self.columns.patient.astype(np.float64) * 1e7 + admit
        first = np.searchsorted(key, key - days, side="right")
        count = np.arange(self.n) - first + 1
        return Col(count.astype(np.float64), np.ones(self.n, dtype=bool), NUMBER)

    def _los(self) -> None:
        days = np.maximum(1.0, self.raw("discharge_date") - self.raw("admit_date"))
        self._put("los_days", days, np.ones(self.n, dtype=bool), NUMBER)

    def _regions(self) -> None:
        distinct, rows = self.factorize_together(_REGIONS)
        relation = [region_relation(*pair) for pair in distinct]
        self._put_spread("region_relation", relation, TEXT, rows)
        array = np.empty(len(relation), dtype=object)
        array[:] = relation
        ones = np.ones(self.n, dtype=bool)
        self._put("is_cross_region", (array == CROSS_REGION)[rows], ones, "bool")
        self._put("is_cross_province", (array == CROSS_PROVINCE)[rows], ones, "bool")

    def _dx_category(self) -> None:
        distinct, rows = self.codes("principal_dx")  # a chunk's claims share a few hundred diagnoses
        self._put_spread("dx_category", [d[:3] for d in distinct], TEXT, rows)

    def _grouping(self) -> tuple[list[Any], np.ndarray]:
        """The grouping facts (`GroupParts`) of each distinct (scheme, group code), and each row's position
        among them."""
        if self._groups is None:
            distinct, rows = self.factorize_together(_GROUPING)
            memo = self.memo("group_parts")
            self.remembered(memo, distinct, lambda key: group_parts(key[0], key[1] or ""))
            self._groups = ([memo[key] for key in distinct], rows)
        return self._groups

    def _group_facts(self) -> None:
        parts, rows = self._grouping()
        self._put_spread("adrg", [p.adrg for p in parts], TEXT, rows)
        self._put_spread("group_severity", [p.severity for p in parts], TEXT, rows)
        self._put_spread("group_type", [p.group_type for p in parts], TEXT, rows)
        self._put_spread("is_ungroupable", [p.ungroupable for p in parts], "bool", rows)

    def _counts(self) -> None:
        for name, key in (("secondary_dx", "secondary_dx_count"), ("procedures", "procedure_count")):
            try:
                lists = self.code_list(name)
            except Unsupported:
                continue
            lengths = np.fromiter(map(len, lists), dtype=np.float64, count=self.n)
            self._put(key, lengths, np.ones(self.n, dtype=bool), NUMBER)

    def _complications(self) -> None:
        """MCC, CC and excluded codes as `CodeTables.complications` finds them, worked out over the chunk's
        secondary codes at once: each distinct code (and principal diagnosis) is looked up once, and the
        codes found in the MCC or CC table are checked against their claim's principal diagnosis and its
        exclusion table with NumPy (object arrays compare their items as Python compares them)."""
        tables = self.ref.codes.tables
        mcc_table, cc_table, exclusions = tables["mcc"], tables["cc"], tables["principal_exclusion"]
        principals, principal_rows = self.codes("principal_dx")
        distinct, where, row_of = self.code_items("secondary_dx")
        kind_of = self.memo("complication_kind")  # code -> 0 neither, 1 MCC, 2 CC
        exclusion_of = self.memo("complication_exclusion")  # code -> its exclusion table
        for code in distinct:
            if code in kind_of:
                continue
            exclusion = mcc_table.get(code)
            kind = 1
            if exclusion is None:
                exclusion = cc_table.get(code)
                kind = 0 if exclusion is None else 2
            exclusion_of[code] = exclusion
            kind_of[code] = kind
        kinds = np.fromiter(map(kind_of.__getitem__, distinct), dtype=np.int8, count=len(distinct))[where]
        at = np.flatnonzero(kinds > 0)  # the codes found, in row order and each row's list order
        positions, rows = where[at], row_of[at]
        codes = _objects(distinct)[positions]
        claim_principal = principal_rows[rows]
        own = _objects([exclusions.get(p) for p in principals])[claim_principal]
        counted = ~(codes == _objects(principals)[claim_principal])  # a code is not its own complication
        has_own = np.fromiter(map(operator.is_not, own.tolist(), repeat(None)), dtype=bool, count=len(own))
        excluded = counted & has_own & (_objects([exclusion_of[c] for c in distinct])[positions] == own)
        mcc = kinds[at] == 1
        ones = np.ones(self.n, dtype=bool)
        # Only the rows with a code found get a list of their own; the others share one empty list (the
        # pre-filter never changes a column's values).
        empty: list[str] = []
        for key, chosen in (
            ("mcc_codes", counted & ~excluded & mcc),
            ("cc_codes", counted & ~excluded & ~mcc),
            ("excluded_cc_codes", excluded),
        ):
            by_row: dict[int, list[str]] = {}
            for row, code in zip(rows[chosen].tolist(), codes[chosen].tolist(), strict=True):
                by_row.setdefault(row, []).append(code)
            array = np.empty(self.n, dtype=object)
            array[:] = [empty] * self.n
            for row, found in by_row.items():
                array[row] = found
            self._put(key, array, ones, LIST)
            if key != "excluded_cc_codes":
                counts = np.bincount(rows[chosen], minlength=self.n).astype(np.float64)
                self._put(key.replace("_codes", "_count"), counts, ones, NUMBER)

    def _unknown(self) -> None:
        tables = self.ref.codes
        dx, px = tables.diagnoses, tables.procedures
        unknown_dx = self.memo("unknown_dx")  # code -> 1 when the diagnosis table lacks it, else 0
        unknown_px = self.memo("unknown_px")
        principals, principal_rows = self.codes("principal_dx")
        self.remembered(unknown_dx, principals, _missing_from(dx))
        total = np.fromiter(map(unknown_dx.__getitem__, principals), dtype=np.float64, count=len(principals))[
            principal_rows
        ]
        # Each code list's codes (`code_items`: each distinct code looked up once), counted per row.
        for name, memo, table in (("secondary_dx", unknown_dx, dx), ("procedures", unknown_px, px)):
            distinct, where, row_of = self.code_items(name)
            self.remembered(memo, distinct, _missing_from(table))
            unknown = np.fromiter(map(memo.__getitem__, distinct), dtype=np.float64, count=len(distinct))[
                where
            ]
            total = total + np.bincount(row_of, weights=unknown, minlength=self.n)
        self._put("unknown_code_count", total, np.ones(self.n, dtype=bool), NUMBER)

    def _money(self) -> None:
        ones = np.ones(self.n, dtype=bool)
        total = self.raw("total_cost")
        with np.errstate(divide="ignore", invalid="ignore"):
            try:
                fees = sum((self.number(k) for k in _FEES), np.zeros(self.n))
                self._put("fee_total", np.round(fees, 2), ones, NUMBER, exact=False)
            except Unsupported:
                pass
            positive = total > 0
            shares = {
                "case_cost": (("total_cost", "outside_purchase"), None),
                "self_share": (("self_expense", "outside_purchase"), positive),
                "lab_exam_share": (("fee_lab", "fee_exam"), positive),
                "drug_share": (("fee_drug",), positive),
                "material_share": (("fee_material",), positive),
            }
            for key, (names, valid) in shares.items():
                try:
                    part = sum((self.number(name) for name in names), np.zeros(self.n))
                except Unsupported:
                    continue
                if valid is None:
                    self._put(key, np.round(part, 2), ones, NUMBER, exact=False)
                else:
                    self._put(
                        key, np.where(valid, part / np.where(valid, total, 1.0), 0.0), valid, NUMBER, False
                    )

    def _hospital(self) -> None:
        # Each column is built over the chunk's distinct hospitals, then spread to their claims.
        ids = self.raw("hospital_id").tolist()
        distinct = list(dict.fromkeys(ids))
        position = {hospital: k for k, hospital in enumerate(distinct)}
        rows = np.fromiter(map(position.__getitem__, ids), dtype=np.intp, count=self.n)
        facts = [self.ref.hospital_facts(hospital) for hospital in distinct]
        keys = (
            facts[0][0].keys() if facts else [f.key for f in FACTS.values() if f.key.startswith("hospital__")]
        )
        for key in keys:
            kind = FACTS[key.replace("__", ".", 1)].type
            col = build_column([f[0].get(key) for f in facts], kind)
            self._put(key, np.asarray(col.values)[rows], np.asarray(col.valid)[rows], col.kind, col.exact)
        designated = np.array([np.nan if f[2] is None else f[2].toordinal() for f in facts], dtype=np.float64)
        designated = designated[rows] if len(designated) else np.zeros(self.n)
        if "admit_date" in self.columns.values:
            known = ~np.isnan(designated)
            days = np.where(known, self.raw("admit_date") - np.where(known, designated, 0.0), 0.0)
            self._put("days_since_designation", days, known, NUMBER)

    def _pricing(self) -> None:
        """Group-table facts, cost ratio, ratio limits and placeholder flag, per distinct group entry."""
        ref = self.ref
        distinct, rows = self.factorize_together(_PRICING)

        def priced(key: tuple[str, str, str | None]) -> tuple[dict[str, Any] | None, Any, bool, bool]:
            region, scheme, code = key[0], key[1], key[2] or ""
            grouped = group_parts(scheme, code).grouped
            settings, placeholder = ref.pricing(region, strict=False)
            group = ref.group_facts((region, scheme, code)) if grouped else None
            limits = (
                ref.ratio_limits(region, scheme, group["group__weight"] if group else None)
                if grouped
                else None
            )
            basic = grouped and settings.is_basic_disease_group(scheme, code)
            return group, limits, basic, placeholder

        memo = self.memo("pricing")
        self.remembered(memo, distinct, priced)
        # One value per distinct (region, scheme, group code), spread to the rows.
        found = [memo[key] for key in distinct]
        for key in _GROUP_KEYS:
            kind = FACTS[key.replace("__", ".", 1)].type
            default: Any = [] if kind == LIST else (False if key == "group__known" else None)
            self._put_spread(key, [g[0][key] if g[0] else default for g in found], kind, rows)
        self._put_spread("is_basic_disease_group", [g[2] for g in found], "bool", rows)
        self._put_spread("payment_placeholder", [g[3] for g in found], "bool", rows)
        for key, attribute in (
            ("high_ratio_limit", "high"),
            ("low_ratio_limit", "low"),
            ("extreme_ratio_limit", "extreme"),
        ):
            self._put_spread(key, [getattr(g[1], attribute) if g[1] else None for g in found], NUMBER, rows)
        self._put_spread("high_ratio_tier", [g[1].tier if g[1] else None for g in found], TEXT, rows)
        avg_cost = np.array(
            [g[0]["group__avg_cost"] if g[0] else np.nan for g in found], dtype=np.float64
        ).reshape(-1)[rows]
        avg_los = np.array(
            [
                g[0]["group__avg_los"] if g[0] and g[0]["group__avg_los"] is not None else np.nan
                for g in found
            ],
            dtype=np.float64,
        ).reshape(-1)[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            try:
                cost = self.number("total_cost") + self.number("outside_purchase")
                valid = avg_cost > 0  # NaN compares false
                self._put(
                    "cost_ratio",
                    np.where(valid, cost / np.where(valid, avg_cost, 1.0), 0.0),
                    valid,
                    NUMBER,
                    False,
                )
            except Unsupported:
                pass
            try:
                los = np.maximum(1.0, self.raw("discharge_date") - self.raw("admit_date"))
                valid = ~np.isnan(avg_los) & (avg_los != 0)
                self._put(
                    "los_ratio",
                    np.where(valid, los / np.where(valid, avg_los, 1.0), 0.0),
                    valid,
                    NUMBER,
                    False,
                )
            except Unsupported:
                pass

    def _history(self) -> None:
        for days in (90, 365):
            self._cache[f"admissions_{days}d"] = self._admissions(days)


def _objects(values: Sequence[Any]) -> np.ndarray:
    """An object array of these values, each one item (a list stays a list)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _missing_from(table: Container[Any]) -> Callable[[Any], int]:
    """1 for a code the table lacks, else 0."""
    return lambda code: int(code not in table)


_BUILDERS: dict[str, Callable[[ColumnFacts], Any]] = {
    "los_days": ColumnFacts._los,
    "region_relation": ColumnFacts._regions,
    "is_cross_region": ColumnFacts._regions,
    "is_cross_province": ColumnFacts._regions,
    "dx_category": ColumnFacts._dx_category,
    "adrg": ColumnFacts._group_facts,
    "group_severity": ColumnFacts._group_facts,
    "group_type": ColumnFacts._group_facts,
    "is_ungroupable": ColumnFacts._group_facts,
    "secondary_dx_count": ColumnFacts._counts,
    "procedure_count": ColumnFacts._counts,
    "mcc_codes": ColumnFacts._complications,
    "cc_codes": ColumnFacts._complications,
    "excluded_cc_codes": ColumnFacts._complications,
    "mcc_count": ColumnFacts._complications,
    "cc_count": ColumnFacts._complications,
    "unknown_code_count": ColumnFacts._unknown,
    "fee_total": ColumnFacts._money,
    "case_cost": ColumnFacts._money,
    "self_share": ColumnFacts._money,
    "lab_exam_share": ColumnFacts._money,
    "drug_share": ColumnFacts._money,
    "material_share": ColumnFacts._money,
    "hospital__": ColumnFacts._hospital,
    "days_since_designation": ColumnFacts._hospital,
    "group__": ColumnFacts._pricing,
    "cost_ratio": ColumnFacts._pricing,
    "los_ratio": ColumnFacts._pricing,
    "high_ratio_limit": ColumnFacts._pricing,
    "low_ratio_limit": ColumnFacts._pricing,
    "extreme_ratio_limit": ColumnFacts._pricing,
    "high_ratio_tier": ColumnFacts._pricing,
    "is_basic_disease_group": ColumnFacts._pricing,
    "payment_placeholder": ColumnFacts._pricing,
    "admissions_90d": ColumnFacts._history,
    "admissions_365d": ColumnFacts._history,
}
