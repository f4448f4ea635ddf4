"""The durable-rules C engine's process-global state, and creating rulesets in it to check them.

Kept apart from `drgaudit.engine.runtime` (which loads the `durable` Python package): `rules check` and
every pack load create each compiled ruleset here once (`refused_rules`) without loading it.

- `ENGINE_LOCK` is held around every use of the C engine's global tables (creating and deleting rulesets,
  running a patient: see `drgaudit.engine.runtime`); a forked child gets a fresh, unlocked lock.
- Some deeply nested and/or conditions are refused when their ruleset is created (error 113, "Could not
  create ruleset") though the checker accepts them; `refused_rules` finds them at check time, so such a
  rule is a `path:line:col` error (engine/lint.py `check_compiles`), not a failure at screening.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import threading
from typing import TYPE_CHECKING, Any

import durable_rules_engine

if TYPE_CHECKING:
    from drgaudit.engine.compiler import CompiledProfile, CompiledRule

# Held around every use of the C engine's process-global state.
ENGINE_LOCK = threading.RLock()


def _fresh_lock_in_child() -> None:
    global ENGINE_LOCK
    ENGINE_LOCK = threading.RLock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)

# Every ruleset carries a closing rule (see drgaudit.engine.runtime: deleting a session is only safe
# after an action ran in it).
CLOSE_RULE = "_close"
_names = itertools.count()


def registered(definition: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A ruleset's rules as the C engine gets them: the compiled definition and the closing rule."""
    return {**definition, CLOSE_RULE: {"all": [{"m": {"$and": [{"kind": "close"}, {"_t": True}]}}]}}


def _refusal(definition: dict[str, dict[str, Any]]) -> str | None:
    """The C engine's error when it refuses to create this ruleset, None when it takes it (then deleted)."""
    return _refusal_of(json.dumps(registered(definition), ensure_ascii=False))


@functools.lru_cache(maxsize=1024)
def _refusal_of(text: str) -> str | None:
    # The same ruleset text comes back for every region without overrides of its rules: created once.
    with ENGINE_LOCK:
        try:
            handle = durable_rules_engine.create_ruleset(f"drgaudit_check_{os.getpid()}_{next(_names)}", text)
        except Exception as exc:  # the C engine reports only an error number
            return str(exc)
        durable_rules_engine.delete_ruleset(handle)
    return None


def refused_rules(profile: CompiledProfile) -> list[tuple[CompiledRule, str]]:
    """The compiled rules of a profile that durable-rules refuses to create a ruleset of, with its error.

    Each ruleset is created once, as `Runtime` registers it, and deleted. A refused ruleset is tried again
    rule by rule to name the culprits; if each rule alone is taken, every rule of the ruleset is named.
    """
    refused: list[tuple[CompiledRule, str]] = []
    for index, definition in enumerate(profile.rulesets):
        error = _refusal(definition)
        if error is None:
            continue
        members = [rule for rule in profile.rules if rule.ruleset == index]
        alone = [(rule, found) for rule in members if (found := _refusal(rule.definitions)) is not None]
        refused += alone or [(rule, error) for rule in members]
    return refused
