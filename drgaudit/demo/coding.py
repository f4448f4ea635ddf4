"""Coding the demo stays against the code tables in use: which secondary diagnoses are CC/MCC, DRG splits.

A secondary diagnosis counts as MCC (CC) when it is in mcc.tsv (cc.tsv) and its exclusion table differs
from the principal diagnosis's exclusion table (DATA-CONTRACT "code tables").
"""

from __future__ import annotations

from dataclasses import dataclass

from drgaudit.demo.templates import Catalog, Template
from drgaudit.engine.codes import CodeTables
from drgaudit.errors import DrgauditError

# Severity levels of a stay's coded complications.
NONE, CC, MCC = 0, 1, 2
# Last digit of the DRG code for each level, in a group split by severity.
SUFFIX = {MCC: "1", CC: "3", NONE: "5"}
UNSPLIT = "9"


@dataclass(frozen=True)
class Pools:
    """Secondary-diagnosis candidates of one principal diagnosis, by what they count as."""

    mcc_evidence: tuple[str, ...]
    mcc_plain: tuple[str, ...]
    cc: tuple[str, ...]
    excluded: tuple[str, ...]
    neutral: tuple[str, ...]

    @property
    def mcc(self) -> tuple[str, ...]:
        return self.mcc_plain + self.mcc_evidence


class Coder:
    """CC/MCC classification and code pools over one set of code tables."""

    def __init__(self, catalog: Catalog, tables: CodeTables) -> None:
        self.catalog = catalog
        self.tables = tables
        self._mcc = tables.tables["mcc"]
        self._cc = tables.tables["cc"]
        self._principal = tables.tables["principal_exclusion"]
        self._check(catalog, tables)
        self._splits: dict[str, tuple[str, ...]] = {}
        for code in tables.tables["drg_groups"]:
            if len(code) == 4 and code[3] in "1359":
                self._splits[code[:3]] = (*self._splits.get(code[:3], ()), code[3])
        self.incidental = self._incidental(catalog, tables)
        self.diagnostic = self._diagnostic(catalog, tables)
        self._pools: dict[tuple[str, str, str, int], Pools] = {}

    def splits(self, adrg: str) -> tuple[str, ...]:
        """The severity digits the code tables have for a core group, e.g. ("1", "3", "5") or ("9",)."""
        try:
            return self._splits[adrg]
        except KeyError:
            raise DrgauditError(
                f"code tables {self.tables.source} have no DRG group for core group {adrg}"
            ) from None

    def group_name(self, group: str) -> str:
        return self.tables.tables["drg_groups"].get(group, "")

    def qualifies(self, principal: str, code: str) -> int:
        """MCC, CC or NONE: what `code` counts as when coded beside `principal`."""
        own = self._principal.get(principal)
        table = self._mcc.get(code)
        if table is not None:
            return MCC if table != own else NONE
        table = self._cc.get(code)
        if table is not None:
            return CC if table != own else NONE
        return NONE

    def level(self, principal: str, secondary: list[str]) -> int:
        """The highest complication level among the secondary diagnoses."""
        return max((self.qualifies(principal, c) for c in secondary if c != principal), default=NONE)

    def is_complication(self, code: str) -> bool:
        """Whether the code is in mcc.tsv or cc.tsv at all (whatever the principal)."""
        return code in self._mcc or code in self._cc

    def pools(self, template: Template, principal: str, gender: str, age: int) -> Pools:
        """Candidates for the secondary diagnoses of a stay, cached per principal and patient kind.

        Comorbidities go to adults only, the chronic incidental ones to patients of 40 and over.
        """
        band = 0 if age < 18 else 1 if age < 40 else 2
        key = (template.key, principal, gender, band)
        pools = self._pools.get(key)
        if pools is None:
            pools = self._pools[key] = self._build_pools(template, principal, gender, band)
        return pools

    def _build_pools(self, template: Template, principal: str, gender: str, band: int) -> Pools:
        fits = self.catalog.fits_gender
        evidence = self.catalog.evidence
        mcc = [
            c
            for c in template.mcc
            if c != principal and fits(c, gender) and self.qualifies(principal, c) == MCC
        ]
        cc = [
            c
            for c in template.cc
            if c != principal and fits(c, gender) and self.qualifies(principal, c) == CC
        ]
        excluded = [
            c
            for c in template.excluded
            if c != principal and self.is_complication(c) and self.qualifies(principal, c) == NONE
        ]
        neutral = [c for c in template.comorbid if c != principal and fits(c, gender)] if band else []
        if band == 2:
            neutral += [c for c in self.incidental if c[:3] != principal[:3] and c not in neutral]
        neutral = [c for c in neutral if self.qualifies(principal, c) == NONE]
        return Pools(
            mcc_evidence=tuple(c for c in mcc if evidence.needs_evidence(c)),
            mcc_plain=tuple(c for c in mcc if not evidence.needs_evidence(c)),
            cc=tuple(cc),
            excluded=tuple(excluded),
            neutral=tuple(neutral),
        )

    def _incidental(self, catalog: Catalog, tables: CodeTables) -> tuple[str, ...]:
        codes = list(catalog.incidental_codes)
        seen = set(codes)
        for code in tables.diagnoses:
            if (
                code.startswith(catalog.incidental_prefixes)
                and code not in seen
                and not self.is_complication(code)
            ):
                codes.append(code)
                seen.add(code)
        return tuple(codes)

    def _diagnostic(self, catalog: Catalog, tables: CodeTables) -> tuple[str, ...]:
        codes = list(catalog.diagnostic_codes)
        seen = set(codes)
        for code in tables.procedures:
            if code.startswith(catalog.diagnostic_prefixes) and code not in seen:
                codes.append(code)
                seen.add(code)
        return tuple(c for c in codes if not catalog.evidence.supports(c))

    @staticmethod
    def _check(catalog: Catalog, tables: CodeTables) -> None:
        dx, px = catalog.all_codes()
        missing = sorted(c for c in dx if c not in tables.diagnoses) + sorted(
            c for c in px if c not in tables.procedures
        )
        if missing:
            shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
            raise DrgauditError(
                f"code tables {tables.source} lack {len(missing)} code(s) the demo templates use: {shown} "
                "(the demo is built on CHS-DRG 1.1 codes)"
            )
