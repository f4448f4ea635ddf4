"""The one adapter between drgaudit and durable-rules; every known trap of the engine is handled here.

- `post` fires only one rule per event, so claims go in as facts (`assert_fact`), each one on its own:
  asserting a batch reports "not handled" when its *last* fact matches nothing and then drops the
  pending actions of the others.
- A fact that matches nothing raises MessageNotHandledException in the Python wrapper; the adapter calls
  the C engine directly and treats that result code as "no match".
- A ruleset holds about 1,024 live sessions: each patient's session is deleted as soon as it is done.
- ~500 rules testing one first property (one alpha node's child table holds 512), or more than 64 alpha
  nodes matching one fact at once (handleAlpha's stack), fail with error 303: the compiler splits
  profiles into rulesets of at most MAX_RULES_PER_RULESET rules. Bigger rulesets are not cheaper: a
  session costs less, but every alpha node a fact reaches scans all the fact's properties; and with
  the pre-filter's routes a patient opens sessions only in the rulesets where its claims could fire.
- The cost is in the C engine's alpha scan (per fact: the nodes it reaches times its properties) and
  in creating a session (per beta node): each ruleset gets only the keys its rules read, a claim that is
  not screened only the keys pair rules read of the earlier claim, and only rulesets with a pair rule;
  with the pre-filter's routes, a screened claim goes only into the rulesets where some rule could fire
  on it (elsewhere it is an earlier claim only), and a patient opens no session in the others.
- durable's Python wrapper (`Ruleset.do_actions`) costs more than the engine: JSON of the state both
  ways, a Closure per action, `update_state` re-asserting the state fact. The adapter runs the actions
  at the C level instead (`_run_actions`), as the wrapper does but recording each Match only; every
  started action is completed, or abandoned on an error.
- A rule whose only test is an absence (`$nex`) loops forever: the compiler never emits `$nex`, and
  every pattern tests `kind`.
- A field missing from a fact, read inside an expression, gives wrong answers or crashes the process:
  `project` gives every optional field a placeholder and a `_h_` flag that the compiled tests check.
- A ruleset name cannot be registered twice: every Runtime registers its rulesets under fresh names.
- `delete_state` frees the session's action context, which the C engine (2.0.28) only initialises when
  an action has run in that session; deleting a session in which no rule fired frees a garbage pointer
  and crashes the process. Every ruleset therefore carries a closing rule, and each patient's facts
  end with a closing fact whose action (it records nothing) runs before the session is deleted, also
  after a failure (`_close_quietly`).
- durable-rules holds the GIL: parallelism comes from processes (see `drgaudit.engine.parallel`).
- Its state is process-global and not thread-safe: rulesets and sessions live in the C engine's global
  tables, and a patient's run is a sequence of calls (assert every fact, the closing fact, run the
  actions, delete the session) that must not interleave with another thread's run; the matches are
  collected on the Runtime. Every run, every ruleset creation and deletion therefore holds
  `enginestate.ENGINE_LOCK`, one lock per process. Threads gain nothing by running the engine at once
  anyway (it never releases the GIL), so the lock costs only the wait for the current patient (well
  under a millisecond); a forked child gets a fresh, unlocked lock (`os.register_at_fork`).
- Some deeply nested and/or conditions are refused when the ruleset is created (error 113, "Could not
  create ruleset"), though the checker accepts them: `enginestate.refused_rules` creates every ruleset of
  a profile once when the pack is checked (engine/lint.py `check_compiles`), so such a rule is a
  `path:line:col` error of `rules check` and of every load, not a failure at screening.
- A ruleset stays registered until `delete_ruleset`: `Runtime.close` releases a profile's rulesets when
  a long-running process (the API server) replaces a rule pack.
"""

from __future__ import annotations

import itertools
import json
import operator
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import durable_rules_engine
import orjson

from drgaudit.engine import enginestate
from drgaudit.engine.compiler import CUR, EARLY, CompiledProfile
from drgaudit.engine.enginestate import CLOSE_RULE, registered
from drgaudit.engine.evaluate import FactFunction, compile_fact_function
from drgaudit.engine.exceptions import EngineError
from drgaudit.engine.vocabulary import BOOL

_NOT_HANDLED = 1
_OBSERVED = 2
_names = itertools.count()
_sessions = itertools.count(1)
CLOSE_FACT: dict[str, Any] = {"kind": "close", "claim_id": "_close", "_t": True}
# The keys `project` gives every fact besides the vocabulary's; with "sid", every ruleset gets them all
# (`seq` keeps two facts of one claim apart: durable-rules takes a fact's id from its whole content).
_BASE_KEYS = ("kind", "claim_id", "seq", "target", "_t")


@dataclass(frozen=True)
class Match:
    """durable-rules fired rule `rule` for claim `claim_id` (with `earlier_id` for a pair rule)."""

    rule: str
    claim_id: str
    earlier_id: str | None


class Runtime:
    """The registered durable-rules rulesets of one compiled profile, and how to run a patient through them."""

    def __init__(self, profile: CompiledProfile) -> None:
        self.profile = profile
        self._matches: list[Match] = []
        self._pairs = any(rule.bound.rule.pair for rule in profile.rules)
        lists = profile.pack.lists
        # How a screened claim is projected: every key some rule reads.
        self._target = _Shape.of(
            tuple(profile.fact_keys),
            tuple(
                (k, f"_h_{k}", _placeholder(profile.fact_keys[k]))
                for k in sorted(profile.guarded_keys)
                if k in profile.fact_keys
            ),
            tuple(
                (syn.key, compile_fact_function(syn.expr, lists))
                for syn in profile.synthetics.values()
                if syn.kind == "bool"
            ),
            tuple(
                (syn.key, f"_h_{syn.key}", compile_fact_function(syn.expr, lists))
                for syn in profile.synthetics.values()
                if syn.kind == "value"
            ),
        )
        # A claim that is not screened can only be the earlier claim of a pair rule (every other pattern
        # tests `target`), so it gets only the keys that pair rules read of the earlier claim.
        history = _history_keys(profile.rulesets)
        self._history = self._target.restricted(history)
        history_keys = set(self._history.projected)
        self._history_keys = frozenset(history_keys)
        # A screened claim routed into some rulesets only (`project`'s routes): the shape that gives the
        # keys those rulesets read, and the earlier-claim keys, by route.
        self._routed: dict[frozenset[str], _Shape] = {}
        self._rulesets: list[_Registered] = []
        by_name = profile.by_name()
        for index, definition in enumerate(profile.rulesets):
            name = f"drgaudit_{profile.profile}_{index}_{os.getpid()}_{next(_names)}"
            # What each durable-rules rule's action records: the drgaudit rule, and whether it is a pair.
            actions = {
                rule_name: (by_name[rule_name].name, len(rule["all"]) == 2)
                for rule_name, rule in definition.items()
            }
            keys = _keys_read(definition, self._target.projected)
            try:
                with enginestate.ENGINE_LOCK:
                    handle = durable_rules_engine.create_ruleset(
                        name, json.dumps(registered(definition), ensure_ascii=False)
                    )
            except Exception as exc:  # the C engine reports only an error number
                raise EngineError(f"durable-rules refused ruleset {name}: {exc}") from exc
            pairs = any(pair for _, pair in actions.values())
            earlier = tuple(key for key in keys if key in history_keys)
            self._rulesets.append(
                _Registered(name, handle, actions, keys, _getter(keys), pairs, earlier, _getter(earlier))
            )

    @property
    def ruleset_names(self) -> tuple[str, ...]:
        """The registered name of each compiled ruleset, in `CompiledProfile.rulesets`' order: what a
        route (`run`'s `routes`) names; unique in the process, so routes of several Runtimes can merge."""
        return tuple(ruleset.name for ruleset in self._rulesets)

    def project(
        self,
        facts: list[dict[str, Any]],
        targets: set[str],
        routes: Mapping[str, frozenset[str]] | None = None,
    ) -> list[dict[str, Any]]:
        """The durable-rules form of a patient's facts: only the keys the rules read, no gaps.

        Claims other than the targets matter only as the earlier claim of a pair rule, so they are left
        out when the profile has no pair rule, and so are claims after the last target; those kept get
        only the keys that pair rules read of the earlier claim. A target with a route (`run`'s
        `routes`, which must then be the same) gets only the keys its rulesets read, and those of an
        earlier claim: no derived value that no ruleset it goes into reads is computed.
        """
        last = max((f["seq"] for f in facts if f["claim_id"] in targets), default=-1)
        projected = []
        for fact in facts:
            target = fact["claim_id"] in targets
            if fact["seq"] > last or (not self._pairs and not target):
                continue
            if not target:
                shape = self._history
            elif routes is None or (route := routes.get(fact["claim_id"])) is None:
                shape = self._target
            else:
                shape = self._routed.get(route) or self._route_shape(route)
            item = dict(zip(shape.fact_keys, shape.pick(fact), strict=True))
            item.update(  # the _BASE_KEYS
                kind="claim",
                claim_id=fact["claim_id"],
                seq=fact["seq"],
                target=target,
                _t=True,
            )
            for key, flag, placeholder in shape.guarded:
                if item[key] is None:
                    item[flag] = False
                    item[key] = placeholder
                else:
                    item[flag] = True
            for key, function in shape.bool_synthetics:
                item[key] = bool(function(fact))
            for key, flag, function in shape.value_synthetics:
                value = function(fact)
                item[flag] = value is not None
                item[key] = 0 if value is None else value
            projected.append(item)
        return projected

    def _route_shape(self, route: frozenset[str]) -> _Shape:
        wanted = set(self._history_keys) if self._pairs else set()
        for ruleset in self._rulesets:
            if ruleset.name in route:
                wanted.update(ruleset.keys)
        shape = self._routed[route] = self._target.restricted(wanted)
        return shape

    def run(
        self,
        patient: str,
        projected: list[dict[str, Any]],
        routes: Mapping[str, frozenset[str]] | None = None,
    ) -> list[Match]:
        """Assert a patient's facts in every ruleset, run the fired actions, then delete the session.

        `routes` (claim id -> the names of the rulesets where some rule could fire on it, from the
        pre-filter; see `ruleset_names`) sends each screened claim only into its rulesets: elsewhere it
        is context, as a claim that is not screened (the earlier claim of a pair rule), and a ruleset
        that none of the patient's screened claims is routed into gets no session at all. A screened
        claim without a route goes into every ruleset, as all of them do without `routes`.

        Actions wait in the session's agenda until the closing fact's actions run; all of them run then.
        The durable-rules session id is a fresh counter, never the patient id: the C engine fails to
        delete a session whose id holds a quote, backslash or control character. `patient` only names
        the patient in error messages. Safe to call from several threads: the whole run holds
        `ENGINE_LOCK`.
        """
        with enginestate.ENGINE_LOCK:
            return self._run(patient, projected, routes)

    def close(self) -> None:
        """Release the profile's rulesets in the C engine; the Runtime cannot run afterwards."""
        with enginestate.ENGINE_LOCK:
            rulesets, self._rulesets = self._rulesets, []
            for ruleset in rulesets:
                durable_rules_engine.delete_ruleset(ruleset.handle)

    def _run(
        self, patient: str, projected: list[dict[str, Any]], routes: Mapping[str, frozenset[str]] | None
    ) -> list[Match]:
        if not self._rulesets and self.profile.rulesets:
            raise EngineError("this durable-rules runtime was closed")
        self._matches.clear()
        sid = f"s{next(_sessions)}"
        for fact in projected:
            fact["sid"] = sid
        # Whether a fact's JSON can hold a number in exponent form, worked out once for every ruleset.
        plain = [_plain_numbers(fact.values()) for fact in projected]
        targets = [fact["target"] for fact in projected]
        closing = _dumps(dict(CLOSE_FACT, sid=sid), plain=True)  # texts and a flag: no number at all
        entered = _entered(projected, targets, routes)
        for ruleset in self._rulesets:
            inside, end = targets, len(projected)
            if routes is not None:
                name = ruleset.name
                if entered is not None and name not in entered:
                    continue  # no screened claim is routed into it (as the test below finds, sooner)
                inside = [
                    target and ((route := routes.get(fact["claim_id"])) is None or name in route)
                    for fact, target in zip(projected, targets, strict=True)
                ]
                if True not in inside:
                    continue  # no rule of this ruleset can fire on the patient: no session
                # A claim after the ruleset's last screened claim cannot be its earlier claim (`seq`).
                end = len(inside) - inside[::-1].index(True)
            handle = ruleset.handle
            closed = False
            try:
                # Each ruleset gets only the keys its rules read: durable-rules' cost per fact grows with
                # the fact's number of properties (every alpha node scans them all).
                pairs = ruleset.pairs
                for fact, fact_plain, screened in zip(projected[:end], plain, inside, strict=False):
                    if screened:
                        keys, pick = ruleset.keys, ruleset.pick
                    elif pairs:
                        keys, pick = ruleset.earlier_keys, ruleset.earlier_pick
                    else:
                        continue  # only a pair rule reads a claim that is not screened
                    claim_id = fact["claim_id"]
                    item = dict(zip(keys, pick(fact), strict=True))
                    if fact["target"] and not screened and "target" in item:
                        item["target"] = False  # routed elsewhere: here only an earlier claim
                    text = _dumps(item, plain=fact_plain)
                    code = durable_rules_engine.assert_fact(handle, text)[0]
                    if code == _OBSERVED:
                        raise EngineError(f"claim {claim_id!r} was asserted twice for patient {patient!r}")
                    if code not in (0, _NOT_HANDLED):
                        raise EngineError(f"durable-rules refused claim {claim_id!r}: result {code}")
                result = durable_rules_engine.assert_fact(handle, closing)
                if result[0] != 0:
                    raise EngineError(
                        f"durable-rules did not take the closing fact of patient {patient!r}: result {result[0]}"
                    )
                closed = True
                _run_actions(handle, result[1], ruleset.actions, self._matches)
            finally:
                if not closed:
                    _close_quietly(handle, closing)
                durable_rules_engine.delete_state(handle, sid)
        return list(self._matches)


@dataclass(frozen=True)
class _Registered:
    """A ruleset registered in the C engine: its name, handle, and each durable-rules rule's action
    (the compiled rule's name, and whether it is a pair rule)."""

    name: str
    handle: int
    actions: dict[str, tuple[str, bool]]
    keys: tuple[str, ...]
    pick: Callable[[dict[str, Any]], tuple[Any, ...]]
    pairs: bool
    earlier_keys: tuple[str, ...]  # those of `keys` that a claim not screened has (`Runtime._history`)
    earlier_pick: Callable[[dict[str, Any]], tuple[Any, ...]]


@dataclass(frozen=True)
class _Shape:
    """Which keys `Runtime.project` gives a fact: vocabulary keys, guarded keys (with their `_h_` flag and
    placeholder), synthetic bools and values (with their flag); `projected` names every key it ends with."""

    fact_keys: tuple[str, ...]
    pick: Callable[[dict[str, Any]], tuple[Any, ...]]
    guarded: tuple[tuple[str, str, Any], ...]
    bool_synthetics: tuple[tuple[str, FactFunction], ...]
    value_synthetics: tuple[tuple[str, str, FactFunction], ...]
    projected: tuple[str, ...]

    @classmethod
    def of(
        cls,
        fact_keys: tuple[str, ...],
        guarded: tuple[tuple[str, str, Any], ...],
        bool_synthetics: tuple[tuple[str, FactFunction], ...],
        value_synthetics: tuple[tuple[str, str, FactFunction], ...],
    ) -> _Shape:
        projected = tuple(
            dict.fromkeys(
                (
                    *fact_keys,
                    *_BASE_KEYS,
                    *(flag for _, flag, _ in guarded),
                    *(key for key, _ in bool_synthetics),
                    *(key for entry in value_synthetics for key in entry[:2]),
                    "sid",  # which `Runtime._run` adds
                )
            )
        )
        return cls(fact_keys, _getter(fact_keys), guarded, bool_synthetics, value_synthetics, projected)

    def restricted(self, wanted: set[str]) -> _Shape:
        """The same shape with only what gives one of the `wanted` keys (a key and its flag go together)."""
        guarded = tuple(entry for entry in self.guarded if entry[0] in wanted or entry[1] in wanted)
        wanted = wanted | {key for key, _, _ in guarded}
        return _Shape.of(
            tuple(key for key in self.fact_keys if key in wanted),
            guarded,
            tuple(entry for entry in self.bool_synthetics if entry[0] in wanted),
            tuple(entry for entry in self.value_synthetics if entry[0] in wanted or entry[1] in wanted),
        )


def _getter(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The values of `keys` in a dict, always as a tuple (one C-level getter for two keys or more)."""
    if len(keys) >= 2:
        return operator.itemgetter(*keys)
    if keys:
        (key,) = keys
        return lambda fact: (fact[key],)
    return lambda _fact: ()


def _entered(
    projected: list[dict[str, Any]], targets: list[bool], routes: Mapping[str, frozenset[str]] | None
) -> frozenset[str] | None:
    """The names of the rulesets some screened claim is routed into; None when any may be entered (no
    routes, or a screened claim without a route goes into every ruleset)."""
    if routes is None:
        return None
    entered: frozenset[str] = frozenset()
    for fact, target in zip(projected, targets, strict=True):
        if target:
            route = routes.get(fact["claim_id"])
            if route is None:
                return None
            entered |= route
    return entered


def _run_actions(
    handle: int, state: int, actions: dict[str, tuple[str, bool]] | None, matches: list[Match]
) -> None:
    """Run a session's fired actions at the C level, as durable/engine.py's `do_actions` does, without its
    Python wrapper (JSON of the state both ways, a Closure and Promise per action): each action only
    records its Match, and the session's state is never changed, so it is not written back.

    Every started action is completed or, on an error, abandoned, which frees the action context that
    deleting the session frees too. `actions` None (after a failure) runs the actions and records nothing.
    """
    try:
        started = durable_rules_engine.start_action_for_state(handle, state)
    except Exception as exc:  # the C engine reports only an error number
        raise EngineError(f"durable-rules action failed: {exc}") from exc
    if started is None:
        return
    text: str | None = started[1]
    try:
        while text is not None:
            if actions is not None and not text.startswith(_CLOSING_MESSAGE):
                _record(orjson.loads(text), actions, matches)
            text = durable_rules_engine.complete_and_start_action(handle, state)
    except Exception as exc:
        durable_rules_engine.abandon_action(handle, state)
        raise EngineError(f"durable-rules action failed: {exc}") from exc


# How the closing rule's message begins ({"_close": {"m": the closing fact}}): it records nothing (`_record`),
# so it is not parsed; one of every session's messages, about half of them.
_CLOSING_MESSAGE = '{"' + CLOSE_RULE + '":'


def _record(message: dict[str, Any], actions: dict[str, tuple[str, bool]], matches: list[Match]) -> None:
    # One fired rule per message, {durable rule name: {"m": fact, "earlier": fact}}; the closing rule
    # records nothing.
    name, frames = next(iter(message.items()))
    action = actions.get(name)
    if action is None:
        if name == CLOSE_RULE:
            return
        raise EngineError(f"durable-rules fired an unknown rule {name!r}")
    rule, pair = action
    matches.append(Match(rule, frames[CUR]["claim_id"], frames[EARLY]["claim_id"] if pair else None))


def _close_quietly(handle: int, closing: str) -> None:
    """After a failure, run the closing rule anyway: deleting a session in which no action ran crashes
    the C engine, and the next patient must find the engine as usable as before."""
    try:
        result = durable_rules_engine.assert_fact(handle, closing)
        if result[0] == 0:
            _run_actions(handle, result[1], None, [])
    except Exception:  # noqa: BLE001 - already failing; the first error is the one reported
        pass


def _strings(node: Any, found: set[str]) -> None:
    """Add every dict key and every string value of a JSON-like tree to `found`."""
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            _strings(value, found)
    elif isinstance(node, list):
        for value in node:
            _strings(value, found)
    elif isinstance(node, str):
        found.add(node)


def _history_keys(rulesets: list[dict[str, Any]]) -> set[str]:
    """Every string in the pair rules' earlier-claim patterns and in their references to the earlier
    claim ({"earlier": key}): a superset of the keys they read of the earlier claim."""
    wanted: set[str] = set()

    def find(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == EARLY:
                    _strings(value, wanted)
                else:
                    find(value)
        elif isinstance(node, list):
            for value in node:
                find(value)

    for definition in rulesets:
        for rule in definition.values():
            if len(rule["all"]) == 2:
                find(rule["all"])
    return wanted


def _keys_read(definition: dict[str, Any], projected_keys: tuple[str, ...]) -> tuple[str, ...]:
    """The keys of a projected fact that a ruleset's rules read, in the fact's order: every key that
    appears as a string anywhere in the rules (a property tested, or a reference such as {"$m": key}),
    a superset of what they read, and always the base keys and "sid"."""
    strings: set[str] = set()
    _strings(definition, strings)
    strings.update(_BASE_KEYS, ("sid",))
    return tuple(dict.fromkeys(key for key in projected_keys if key in strings))


def _dumps(fact: dict[str, Any], *, plain: bool = False) -> str:
    """A fact as the JSON text durable-rules takes (orjson: the encoding is a tenth of the Python one's cost).

    `plain`: the caller knows (`_plain_numbers`) that no value is written in exponent form, so the text
    is not searched for one (the search costs ten times the encoding)."""
    text = orjson.dumps(fact).decode()
    if not plain and _EXPONENT.search(text):
        # durable-rules' parser reads `1.5e-05` but refuses `5e-06` and `1e16` (no fraction before the
        # exponent: "no id defined", the whole patient lost); write them `5.0e-06`, outside strings only.
        text = _NUMBER_OR_STRING.sub(_with_fraction, text)
    return text


def _plain_numbers(values: Iterable[Any]) -> bool:
    """True when orjson writes every value without an exponent: texts, ints, bools, None, and floats
    from 1e-3 up to 1e15 (orjson writes those as decimals: tests/test_runtime.py checks the bounds)."""
    for value in values:
        kind = type(value)
        if kind is float:
            if value and not _PLAIN_FLOATS[0] <= abs(value) < _PLAIN_FLOATS[1]:
                return False
        elif kind is not str and kind is not int and kind is not bool and value is not None:
            return False
    return True


# orjson writes a float in this range [low, high) as a decimal; outside it (zero aside) it may use an
# exponent (5e-6, 1e+16).
_PLAIN_FLOATS = (1e-3, 1e15)
_EXPONENT = re.compile(r"\d[eE][-+]?\d")
_NUMBER_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\d.])(-?\d+)([eE][-+]?\d+)')


def _with_fraction(match: re.Match[str]) -> str:
    if match.group(1) is None:
        return match.group(0)  # a string: unchanged
    return f"{match.group(1)}.0{match.group(2)}"


def _placeholder(kind: str | None) -> Any:
    if kind == BOOL:
        return False
    if kind in ("text",):
        return ""
    return 0
