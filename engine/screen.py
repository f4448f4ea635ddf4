"""Screens patients: derive facts, run each treatment region's compiled rules on durable-rules, explain hits."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import numpy as np

from drgaudit.engine.columns import ALWAYS_READ, ClaimColumns, ColumnFacts
from drgaudit.engine.compiler import CompiledProfile, CompiledRule, compile_profile
from drgaudit.engine.evaluate import Env, NotConstant, evaluate
from drgaudit.engine.exceptions import RulePackError
from drgaudit.engine.facts import ReferenceData, patient_facts, sort_key
from drgaudit.engine.hits import Hit, condition_trace, display, message_renderer, thresholds_used
from drgaudit.engine.pack import RulePack
from drgaudit.engine.prefilter import Frame, Prefilter, PrefilterStats, select_together
from drgaudit.engine.rule import Rule
from drgaudit.engine.runtime import Match, Runtime

# Facts every hit's evidence shows, whatever its conditions read.
BASE_EVIDENCE = (
    "patient_id",
    "hospital_id",
    "treatment_region",
    "insured_region",
    "admit_date",
    "discharge_date",
    "principal_dx",
    "group_code",
    "total_cost",
)
# Each of them with the kind `display` shows it as.
_BASE_KINDS = tuple((name, "date" if name.endswith("_date") else None) for name in BASE_EVIDENCE)


# Appended to every hit on a claim priced on the national placeholder rates (pack.yaml allow_placeholder_rates).
PLACEHOLDER_NOTE = "（注：就医地{region}未配置参数，支付测算使用全国默认占位费率）"


@dataclass
class Profile:
    """A compiled profile and its registered runtime."""

    compiled: CompiledProfile
    runtime: Runtime
    by_name: dict[str, CompiledRule]
    prefilter: Prefilter
    # A set of the runtime's rulesets (bit i: its ruleset i) -> their names, as `Screener._routes` meets them.
    routes: dict[int, frozenset[str]] = field(default_factory=dict)


@dataclass
class Prepared:
    """One patient's facts, which of its batch claims each profile still has to screen, and (`routes`,
    from the pre-filter) into which durable-rules rulesets each of them goes (`Runtime.run`)."""

    patient_id: str
    facts: list[dict[str, Any]]
    by_id: dict[str, dict[str, Any]]
    by_profile: dict[str, set[str]] = field(default_factory=dict)
    routes: dict[str, frozenset[str]] | None = None


class Candidates(set[str]):
    """The batch claims of a chunk the pre-filter kept (`candidate_ids`), and in `routes` the rulesets
    (`Runtime.ruleset_names`) where some rule could fire on each: a claim goes only into those.

    A set of claim ids, so it works wherever the kept claims are looked at; a claim without a route
    (`|` with a plain set, a claim another screener kept without routing) goes into every ruleset,
    so a route is only ever a saving, never a loss. Routes of several screeners merge by `|` (every
    Runtime's ruleset names are its own)."""

    def __init__(self, claims: Iterable[str] = (), routes: dict[str, frozenset[str]] | None = None) -> None:
        super().__init__(claims)
        self.routes: dict[str, frozenset[str]] = {} if routes is None else routes

    def __or__(self, other: AbstractSet[Any]) -> Candidates:  # type: ignore[override]
        theirs: dict[str, frozenset[str]] = getattr(other, "routes", {})
        routes = {}
        for claim_id in set.__or__(self, other):
            mine, their = self.routes.get(claim_id), theirs.get(claim_id)
            if (mine is None and claim_id in self) or (their is None and claim_id in other):
                continue  # kept without a route on one side: every ruleset
            routes[claim_id] = (mine or frozenset()) | (their or frozenset())
        return Candidates(set.__or__(self, other), routes)

    __ror__ = __or__

    def __ior__(self, other: AbstractSet[Any]) -> Candidates:  # type: ignore[override]
        merged = self | other
        set.__ior__(self, merged)
        self.routes = merged.routes
        return self


class Screener:
    """Screens patients with every treatment region's compiled rules.

    Only claims of the batch (`batch`) receive hits; earlier claims (`history`) are context for pair
    rules and history facts. `screen_patients` screens a chunk of patients and, unless `prefilter` is
    off, first drops the claims no rule could fire on (`drgaudit.engine.prefilter`), so that only the
    candidates go through durable-rules, which decides every hit.
    """

    def __init__(
        self,
        pack: RulePack,
        reference: ReferenceData,
        *,
        statuses: tuple[str, ...] = ("active",),
        prefilter: bool = True,
    ) -> None:
        self.pack = pack
        self.reference = reference
        self.statuses = statuses
        self.prefilter = prefilter
        self._profiles: dict[str, Profile] = {}
        self._column_fields: tuple[int, frozenset[str]] | None = None
        self.windows: set[int] = set()
        for key in pack.profile_keys():
            self._profile(key)

    def _profile(self, key: str) -> Profile:
        profile = self._profiles.get(key)
        if profile is None:
            compiled = compile_profile(self.pack, None if key == "national" else key, statuses=self.statuses)
            if compiled.problems:
                raise RulePackError(compiled.problems)
            profile = Profile(
                compiled, Runtime(compiled), {c.name: c for c in compiled.rules}, Prefilter(compiled)
            )
            self._profiles[key] = profile
            self.windows |= compiled.windows
        return profile

    def close(self) -> None:
        """Release the compiled rulesets in durable-rules (a long-running process replacing its pack)."""
        for profile in self._profiles.values():
            profile.runtime.close()

    def profile_for(self, treatment_region: str) -> Profile:
        """The compiled profile that screens claims of a treatment region."""
        return self._profile(self.pack.profile_key(treatment_region))

    def prefilter_stats(self) -> PrefilterStats:
        """What the pre-filter saw and kept so far, over every profile."""
        total = PrefilterStats()
        for profile in self._profiles.values():
            total.add(profile.prefilter.stats)
        return total

    def screen_patient(
        self,
        patient_id: str,
        batch: list[dict[str, Any]],
        history: Iterable[dict[str, Any]] = (),
        *,
        precheck: bool = False,
    ) -> list[Hit]:
        """Every hit on the batch claims of one patient, in claim order then rule order.

        `precheck`: first drop, in Python, the claims no rule could fire on (`precheck`), as the
        pre-filter does for a batch: for the one claim of an API request."""
        prepared = self.prepare(patient_id, batch, history)
        if precheck:
            self.precheck(prepared)
        return self.run_prepared(prepared)

    def precheck(self, prepared: Prepared) -> None:
        """Drop the batch claims of one patient on which no rule of their profile could fire.

        What `apply_prefilter` does over columns, done claim by claim with the Python evaluator, for the
        few claims of one request (setting up NumPy columns costs more than screening one claim). A rule
        could fire unless its applicability or one of its `when` conditions is false on the claim;
        a pair rule is tried with each earlier claim of the patient (as durable-rules pairs them); a
        condition the evaluator cannot work out counts as true, and `unless` is not looked at: a
        superset, never fewer. durable-rules still decides every hit.
        """
        lists = self.pack.lists
        routes: dict[str, frozenset[str]] = {}
        for key, ids in list(prepared.by_profile.items()):
            profile = self._profile(key)
            settings = profile.compiled.settings
            names = profile.runtime.ruleset_names
            kept = set()
            for claim_id in ids:
                fact = prepared.by_id[claim_id]
                earlier = [f for f in prepared.facts if f["seq"] < fact["seq"]]
                rulesets = {
                    c.ruleset for c in profile.compiled.rules if _may_fire(c, fact, earlier, settings, lists)
                }
                if rulesets:
                    kept.add(claim_id)
                    routes[claim_id] = frozenset(names[index] for index in rulesets)
            if kept:
                prepared.by_profile[key] = kept
            else:
                del prepared.by_profile[key]
        prepared.routes = routes

    def screen_patients(
        self,
        partitions: Iterable[tuple[str, list[dict[str, Any]], Iterable[dict[str, Any]]]],
        candidates: Collection[str] | None = None,
    ) -> list[Hit]:
        """Every hit of a chunk of patients (patient id, batch claims, history), patient by patient.

        With the pre-filter on, the chunk's claims are filtered together (the filter works on columns);
        `candidates` says the pre-filter already ran on the chunk's columns (`candidate_ids`): only
        those batch claims go through durable-rules, each into its rulesets (`Candidates.routes`)."""
        prepared = [self.prepare(patient_id, batch, history) for patient_id, batch, history in partitions]
        if candidates is not None:
            wanted = candidates if isinstance(candidates, (set, frozenset)) else set(candidates)
            routes = getattr(candidates, "routes", None)
            for item in prepared:
                item.by_profile = {
                    key: kept for key, ids in item.by_profile.items() if (kept := ids & wanted)
                }
                item.routes = routes
        elif self.prefilter:
            self.apply_prefilter(prepared)
        hits: list[Hit] = []
        for item in prepared:
            hits.extend(self.run_prepared(item))
        return hits

    def column_fields(self) -> set[str]:
        """The claim fields the pre-filter of every profile reads (`engine.columns`); worked out once
        per set of compiled profiles (every task asks)."""
        if self._column_fields is None or self._column_fields[0] != len(self._profiles):
            found = set(ALWAYS_READ)
            for profile in self._profiles.values():
                found |= profile.prefilter.fields()
            self._column_fields = (len(self._profiles), frozenset(found))
        return set(self._column_fields[1])

    def candidate_ids(self, columns: ClaimColumns, rows: np.ndarray | None = None) -> Candidates:
        """The batch claims of a chunk read as columns that some rule of their profile could fire on,
        each with the rulesets of those rules (`Candidates.routes`).

        `rows` (a mask) limits the claims this screener screens (a PackRouter's share); the chunk's other
        claims are context. A claim of an unconfigured treatment region stops here as `prepare` would."""
        targets = columns.target if rows is None else columns.target & rows
        if not targets.any():
            return Candidates()
        source = ColumnFacts(columns, self.reference)
        base = Frame(source)
        regions = columns.values["treatment_region"]
        target_rows = np.flatnonzero(targets)
        keys = np.array(
            source.per_distinct(regions[target_rows].tolist(), self._checked_profile_key), dtype=object
        )
        claim_ids = columns.values["claim_id"]

        def pairs_of(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # Every earlier claim of the same patient: the `seq` rows before each target.
            counts = columns.seq[rows]
            owner = np.repeat(np.arange(len(rows)), counts)
            offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            return owner, np.repeat(rows - counts, counts) + offsets

        profile_keys = sorted(set(keys.tolist()))
        parts = [(self._profile(key).prefilter, target_rows[keys == key]) for key in profile_keys]
        kept = Candidates()
        for key, (_, mine), fired in zip(
            profile_keys, parts, select_together(base, parts, pairs_of), strict=True
        ):
            ids, routes = self._routes(key, fired)
            found = claim_ids[mine[ids]].tolist()
            kept.update(found)
            kept.routes.update(zip(found, routes, strict=True))
        return kept

    def _routes(self, key: str, fired: np.ndarray) -> tuple[np.ndarray, list[frozenset[str]]]:
        """From a profile's (rulesets, targets) mask of the pre-filter: the targets kept (positions), and
        for each the names of the rulesets it goes into."""
        kept = np.flatnonzero(fired.any(axis=0))
        if not len(kept):
            return kept, []
        profile = self._profile(key)
        names = profile.runtime.ruleset_names
        if len(names) < 63:  # each kept target's rulesets as the bits of one number; few distinct ones
            codes = (1 << np.arange(len(names), dtype=np.int64)) @ fired[:, kept]
            known = profile.routes
            for code in set(codes.tolist()) - known.keys():
                known[code] = frozenset(name for bit, name in enumerate(names) if code >> bit & 1)
            return kept, [known[code] for code in codes.tolist()]
        distinct, which = np.unique(fired[:, kept].T, axis=0, return_inverse=True)
        routes = [
            frozenset(name for name, on in zip(names, row, strict=True) if on) for row in distinct.tolist()
        ]
        return kept, [routes[i] for i in which.reshape(-1).tolist()]

    def _checked_profile_key(self, region: str) -> str:
        self.reference.pricing(region, strict=True)  # an unconfigured region stops screening
        return self.pack.profile_key(region)

    def prepare(
        self, patient_id: str, batch: list[dict[str, Any]], history: Iterable[dict[str, Any]] = ()
    ) -> Prepared:
        """A patient's facts, and its batch claims by the profile that screens them."""
        claims = {c["claim_id"]: c for c in history}
        claims.update({c["claim_id"]: c for c in batch})  # the batch's version of a claim wins
        targets = {c["claim_id"] for c in batch}
        facts = patient_facts(list(claims.values()), targets, self.reference, self.windows)
        prepared = Prepared(patient_id, facts, {f["claim_id"]: f for f in facts})
        for claim in batch:
            prepared.by_profile.setdefault(self.pack.profile_key(claim["treatment_region"]), set()).add(
                claim["claim_id"]
            )
        return prepared

    def apply_prefilter(self, prepared: Sequence[Prepared]) -> None:
        """Drop, profile by profile, the batch claims on which no rule of the profile could fire.

        The facts of the whole chunk become one frame of columns (built once, read by every profile);
        each profile filters its target rows of it, and pair rules the (current, earlier) row pairs."""
        offsets: list[int] = []
        facts: list[dict[str, Any]] = []
        routes_of: dict[int, dict[str, frozenset[str]]] = {}
        for item in prepared:
            offsets.append(len(facts))
            facts.extend(item.facts)
            item.routes = routes_of[id(item)] = {}  # every patient's, also when none of its claims is kept
        base = Frame(facts)
        for key in sorted({key for item in prepared for key in item.by_profile}):
            profile = self._profile(key)
            owners: list[tuple[Prepared, str]] = []
            rows: list[int] = []
            for item, offset in zip(prepared, offsets, strict=True):
                for claim_id in item.by_profile.get(key, ()):
                    owners.append((item, claim_id))
                    rows.append(offset + item.by_id[claim_id]["seq"])
            targets = np.array(rows, dtype=np.intp)
            pairs = None
            if profile.prefilter.has_pairs:
                # Every earlier row of the same patient: rows offset .. offset + seq - 1.
                current: list[int] = []
                earlier: list[int] = []
                for position, ((item, claim_id), row) in enumerate(zip(owners, rows, strict=True)):
                    seq = item.by_id[claim_id]["seq"]
                    current.extend([position] * seq)
                    earlier.extend(range(row - seq, row))
                pairs = (np.array(current, dtype=np.intp), np.array(earlier, dtype=np.intp))
            kept, routes = self._routes(key, profile.prefilter.select(base, targets, pairs))
            chosen = dict(zip(kept.tolist(), routes, strict=True))
            for position, (item, claim_id) in enumerate(owners):
                route = chosen.get(position)
                if route is None:
                    item.by_profile[key].discard(claim_id)
                else:
                    routes_of[id(item)][claim_id] = route
        for item in prepared:
            item.by_profile = {key: ids for key, ids in item.by_profile.items() if ids}

    def run_prepared(self, prepared: Prepared) -> list[Hit]:
        """Run a prepared patient through durable-rules and build its hits with their evidence."""
        facts, by_id, patient_id = prepared.facts, prepared.by_id, prepared.patient_id
        hits: list[tuple[tuple[int, int], Hit]] = []
        code_set = self.reference.codes.label
        for key in sorted(prepared.by_profile):
            profile = self._profile(key)
            projected = profile.runtime.project(facts, prepared.by_profile[key], prepared.routes)
            matches = profile.runtime.run(f"{patient_id}", projected, prepared.routes)
            grouped: dict[tuple[str, str], list[str]] = {}
            for match in matches:
                grouped.setdefault((match.rule, match.claim_id), [])
                if match.earlier_id is not None:
                    grouped[(match.rule, match.claim_id)].append(match.earlier_id)
            for (rule_name, claim_id), earlier_ids in grouped.items():
                compiled = profile.by_name[rule_name]
                fact = by_id[claim_id]
                earlier_ids = sorted(set(earlier_ids), key=lambda cid: by_id[cid]["seq"])
                earlier = by_id[earlier_ids[-1]] if earlier_ids else None
                hit = build_hit(compiled, fact, earlier, earlier_ids, profile.compiled.settings, self.pack)
                hit.code_set = code_set
                hits.append(((fact["seq"], compiled.order), hit))
        hits.sort(key=lambda item: item[0])
        return [hit for _, hit in hits]


class PackRouter:
    """Screens each claim with the rule pack of its treatment region: a Screener per region, and a default
    one for the other regions (or None: their claims are not screened).

    A patient's claims screened by another pack are context (earlier claims) for this pack's screen, so
    pair rules and history facts see the same claims as with one pack.
    """

    def __init__(self, default: Screener | None, by_region: dict[str, Screener]) -> None:
        self.default = default
        self.by_region = by_region

    def screener_for(self, treatment_region: str) -> Screener | None:
        """The Screener of a treatment region's claims, None when they are not screened."""
        return self.by_region.get(treatment_region, self.default)

    def _screeners(self) -> list[Screener]:
        found = {id(s): s for s in [self.default, *self.by_region.values()] if s is not None}
        return list(found.values())

    @property
    def prefilter(self) -> bool:
        return any(s.prefilter for s in self._screeners())

    def prefilter_stats(self) -> PrefilterStats:
        """What the pre-filters of every pack saw and kept so far."""
        total = PrefilterStats()
        for screener in self._screeners():
            total.add(screener.prefilter_stats())
        return total

    def close(self) -> None:
        """Release every pack's compiled rulesets."""
        for screener in self._screeners():
            screener.close()

    def column_fields(self) -> set[str]:
        """The claim fields the pre-filters of every pack read."""
        return set().union(*(screener.column_fields() for screener in self._screeners()))

    def candidate_ids(self, columns: ClaimColumns, rows: np.ndarray | None = None) -> Candidates:
        """The batch claims of a chunk read as columns that some rule of the pack screening them could
        fire on, with their rulesets (each pack sees the patient's claims of other packs as context)."""
        regions = columns.values["treatment_region"]
        targets = columns.target if rows is None else columns.target & rows
        routed = np.array(
            [id(self.screener_for(region)) for region in regions.tolist()], dtype=np.int64
        ).reshape(-1)
        kept = Candidates()
        for screener in self._screeners():
            mine = targets & (routed == id(screener))
            if mine.any():
                kept |= screener.candidate_ids(columns, mine)
        return kept

    def screen_patients(
        self,
        partitions: Iterable[tuple[str, list[dict[str, Any]], Iterable[dict[str, Any]]]],
        candidates: Collection[str] | None = None,
    ) -> list[Hit]:
        """Every hit of a chunk of patients, as `screen_patient` gives them patient by patient; each pack
        screens its share of the chunk at once (so its pre-filter works on the chunk's columns);
        `candidates` as for `Screener.screen_patients`."""
        work: dict[int, tuple[Screener, list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]]] = {}
        patients: list[tuple[str, dict[str, int], bool]] = []
        for patient_id, batch, history in partitions:
            batch, past = list(batch), list(history)
            groups: dict[int, tuple[Screener, list[dict[str, Any]]]] = {}
            for claim in batch:
                screener = self.screener_for(claim["treatment_region"])
                if screener is not None:
                    groups.setdefault(id(screener), (screener, []))[1].append(claim)
            whole = len(groups) == 1 and len(next(iter(groups.values()))[1]) == len(batch)
            for key, (screener, claims) in groups.items():
                mine = {claim["claim_id"] for claim in claims}
                context = past if whole else past + [c for c in batch if c["claim_id"] not in mine]
                work.setdefault(key, (screener, []))[1].append((patient_id, claims, context))
            patients.append((patient_id, {c["claim_id"]: i for i, c in enumerate(batch)}, whole))
        by_patient: dict[str, list[Hit]] = {}
        for screener, items in work.values():
            for hit in screener.screen_patients(items, candidates):
                by_patient.setdefault(hit.patient_id, []).append(hit)
        hits: list[Hit] = []
        for patient_id, order, whole in patients:
            found = by_patient.get(patient_id, [])
            if not whole:  # stable: rule order stays within a claim
                found.sort(key=lambda hit: order[hit.claim_id])
            hits.extend(found)
        return hits

    def screen_patient(
        self, patient_id: str, batch: list[dict[str, Any]], history: Iterable[dict[str, Any]] = ()
    ) -> list[Hit]:
        """Every hit on the batch claims of one patient, in claim order then rule order."""
        groups: dict[int, tuple[Screener, list[dict[str, Any]]]] = {}
        for claim in batch:
            screener = self.screener_for(claim["treatment_region"])
            if screener is not None:
                groups.setdefault(id(screener), (screener, []))[1].append(claim)
        if len(groups) == 1:
            screener, claims = next(iter(groups.values()))
            if len(claims) == len(batch):
                return screener.screen_patient(patient_id, batch, history)
        past = list(history)
        order = {claim["claim_id"]: index for index, claim in enumerate(batch)}
        hits: list[Hit] = []
        for screener, claims in groups.values():
            mine = {claim["claim_id"] for claim in claims}
            context = past + [claim for claim in batch if claim["claim_id"] not in mine]
            hits.extend(screener.screen_patient(patient_id, claims, context))
        hits.sort(key=lambda hit: order[hit.claim_id])  # stable: rule order stays within a claim
        return hits


def build_hit(
    compiled: CompiledRule,
    fact: dict[str, Any],
    earlier: dict[str, Any] | None,
    related: list[str],
    settings: dict[str, Any],
    pack: RulePack,
) -> Hit:
    """A hit with its evidence: the facts and thresholds that fired, related claims, sentence, amount."""
    bound = compiled.bound
    rule = bound.rule
    if compiled.thresholds is None:  # the same for every hit of the rule in this profile
        compiled.thresholds = thresholds_used(bound, settings)
    env = Env(fact, earlier, bound.params, settings, pack.lists)
    when, seen_when = condition_trace(rule.when, env, "when")
    unless, seen_unless = condition_trace(rule.unless, env, "unless")
    amount = evaluate(rule.amount_at_risk.root, env)
    amount = (
        round(max(0.0, float(amount)), 2)
        if isinstance(amount, (int, float)) and not isinstance(amount, bool)
        else 0.0
    )
    if compiled.message_renderer is None:  # the same for every hit of the rule in this profile
        compiled.message_renderer = message_renderer(rule.message, compiled.types)
    message = compiled.message_renderer(env)
    if fact.get("payment_placeholder"):
        message += PLACEHOLDER_NOTE.format(region=fact["treatment_region"])
    facts = {name: display(fact.get(name), kind) for name, kind in _BASE_KINDS}
    facts.update(seen_when)
    facts.update(seen_unless)
    rule_file = _file_name(rule.path)
    made = compiled.evidence_rule
    if made is None or made[0] is not pack:
        # The same for every hit of the rule in this profile: made once and held by every hit (read-only),
        # so the hits of a chunk that a worker sends back pickle it once.
        made = compiled.evidence_rule = (pack, _rule_evidence(rule, rule_file, pack))
    evidence = {
        "treatment_region": fact["treatment_region"],
        "profile": pack.profile_key(fact["treatment_region"]),
        "facts": facts,
        "thresholds": dict(compiled.thresholds),
        "conditions": when + unless,
        "related_claims": related,
        "rule": made[1],
    }
    if fact.get("payment_placeholder"):
        evidence["placeholder_rates"] = True
    return Hit(
        claim_id=fact["claim_id"],
        rule_id=rule.id,
        family=rule.family,
        severity=rule.severity,
        action=rule.action,
        amount_at_risk=amount,
        message=message,
        evidence=evidence,
        patient_id=str(fact.get("patient_id", "")),
        region=fact["treatment_region"],
        rule_file=rule_file,
        rule_version=rule.file_hash[:16],
        related_claims=related,
        pack_version=pack.version,
    )


def _rule_evidence(rule: Rule, rule_file: str, pack: RulePack) -> dict[str, Any]:
    """The rule part of a hit's evidence: what the rule is, where it lives and what it cites."""
    return {
        "id": rule.id,
        "title": rule.title,
        # The file within its pack: a hit reads the same whichever copy or registered version of the
        # pack screened it (its content is identified by `version`).
        "file": rule_file,
        "version": rule.file_hash[:16],
        "reference": pack.references.render(rule.citations) if pack.references else rule.reference,
        "citations": [pack.references.describe(c) for c in rule.citations] if pack.references else [],
    }


@functools.lru_cache(maxsize=1024)
def _file_name(path: str) -> str:
    return PurePath(path).name


def screen_claims(
    screener: Screener, batch: Iterable[dict[str, Any]], history: Iterable[dict[str, Any]] = ()
) -> list[Hit]:
    """Screen an in-memory set of claims (all patients), for examples, tests and small files."""
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for claim in batch:
        by_patient.setdefault(claim["patient_id"], []).append(claim)
    past: dict[str, list[dict[str, Any]]] = {}
    for claim in history:
        past.setdefault(claim["patient_id"], []).append(claim)
    return screener.screen_patients(
        (patient_id, sorted(by_patient[patient_id], key=sort_key), past.get(patient_id, []))
        for patient_id in sorted(by_patient)
    )


def _may_fire(
    compiled: CompiledRule,
    fact: dict[str, Any],
    earlier: list[dict[str, Any]],
    settings: dict[str, Any],
    lists: dict[str, Any],
) -> bool:
    """False only when the rule's applicability or one of its `when` conditions is false on the claim
    (a pair rule: with every earlier claim of the patient; none: it cannot fire); see `Screener.precheck`."""
    rule = compiled.rule
    if rule.pair and not earlier:
        return False
    conditions = (*(item.condition for item in rule.applicability), *rule.when)
    for other in earlier if rule.pair else [None]:
        env = Env(fact, other, compiled.bound.params, settings, lists)
        for condition in conditions:
            try:
                if not evaluate(condition.root, env):
                    break
            except (NotConstant, TypeError, ValueError, ArithmeticError):
                continue  # cannot be worked out here: durable-rules decides
        else:
            return True
    return False


__all__ = ["Candidates", "Hit", "Match", "PackRouter", "Screener", "build_hit", "screen_claims"]
