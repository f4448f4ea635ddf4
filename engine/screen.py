"""Screens patients: derive facts, run each treatment region's compiled rules on durable-rules, explain hits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from drgaudit.engine.compiler import CompiledProfile, CompiledRule, compile_profile
from drgaudit.engine.evaluate import Env, evaluate
from drgaudit.engine.exceptions import RulePackError
from drgaudit.engine.facts import ReferenceData, patient_facts, sort_key
from drgaudit.engine.hits import Hit, condition_trace, display, render_message, thresholds_used
from drgaudit.engine.pack import RulePack
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


# Appended to every hit on a claim priced on the national placeholder rates (pack.yaml allow_placeholder_rates).
PLACEHOLDER_NOTE = "（注：就医地{region}未配置参数，支付测算使用全国默认占位费率）"


@dataclass
class Profile:
    """A compiled profile and its registered runtime."""

    compiled: CompiledProfile
    runtime: Runtime
    by_name: dict[str, CompiledRule]


class Screener:
    """Screens one patient at a time with every treatment region's compiled rules.

    Only claims of the batch (`batch`) receive hits; earlier claims (`history`) are context for pair
    rules and history facts.
    """

    def __init__(
        self, pack: RulePack, reference: ReferenceData, *, statuses: tuple[str, ...] = ("active",)
    ) -> None:
        self.pack = pack
        self.reference = reference
        self.statuses = statuses
        self._profiles: dict[str, Profile] = {}
        self.windows: set[int] = set()
        for key in ["national", *sorted(pack.regions)]:
            self._profile(key)

    def _profile(self, key: str) -> Profile:
        profile = self._profiles.get(key)
        if profile is None:
            compiled = compile_profile(self.pack, None if key == "national" else key, statuses=self.statuses)
            if compiled.problems:
                raise RulePackError(compiled.problems)
            profile = Profile(compiled, Runtime(compiled), {c.name: c for c in compiled.rules})
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

    def screen_patient(
        self, patient_id: str, batch: list[dict[str, Any]], history: Iterable[dict[str, Any]] = ()
    ) -> list[Hit]:
        """Every hit on the batch claims of one patient, in claim order then rule order."""
        claims = {c["claim_id"]: c for c in history}
        claims.update({c["claim_id"]: c for c in batch})  # the batch's version of a claim wins
        targets = {c["claim_id"] for c in batch}
        facts = patient_facts(list(claims.values()), targets, self.reference, self.windows)
        by_id = {f["claim_id"]: f for f in facts}
        by_profile: dict[str, set[str]] = {}
        for claim in batch:
            by_profile.setdefault(self.pack.profile_key(claim["treatment_region"]), set()).add(
                claim["claim_id"]
            )
        hits: list[tuple[tuple[int, int], Hit]] = []
        for key in sorted(by_profile):
            profile = self._profile(key)
            projected = profile.runtime.project(facts, by_profile[key])
            matches = profile.runtime.run(f"{patient_id}", projected)
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
    env = Env(fact, earlier, bound.params, settings, pack.lists)
    when, seen_when = condition_trace(rule.when, env, "when")
    unless, seen_unless = condition_trace(rule.unless, env, "unless")
    amount = evaluate(rule.amount_at_risk.root, env)
    amount = (
        round(max(0.0, float(amount)), 2)
        if isinstance(amount, (int, float)) and not isinstance(amount, bool)
        else 0.0
    )
    message = render_message(rule.message, env, compiled.types)
    if fact.get("payment_placeholder"):
        message += PLACEHOLDER_NOTE.format(region=fact["treatment_region"])
    facts = {
        name: display(fact.get(name), "date" if name.endswith("_date") else None) for name in BASE_EVIDENCE
    }
    facts.update(seen_when)
    facts.update(seen_unless)
    rule_file = PurePath(rule.path).name
    evidence = {
        "treatment_region": fact["treatment_region"],
        "profile": pack.profile_key(fact["treatment_region"]),
        "facts": facts,
        "thresholds": thresholds_used(bound, settings),
        "conditions": when + unless,
        "related_claims": related,
        "rule": {
            "id": rule.id,
            "title": rule.title,
            # The file within its pack: a hit reads the same whichever copy or registered version of the
            # pack screened it (its content is identified by `version`).
            "file": rule_file,
            "version": rule.file_hash[:16],
            "reference": rule.reference,
        },
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
    hits: list[Hit] = []
    for patient_id in sorted(by_patient):
        claims = sorted(by_patient[patient_id], key=sort_key)
        hits.extend(screener.screen_patient(patient_id, claims, past.get(patient_id, [])))
    return hits


__all__ = ["Hit", "Match", "PackRouter", "Screener", "build_hit", "screen_claims"]
