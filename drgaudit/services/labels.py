"""Chinese names for what the pages (and the API) show: facts and thresholds of hits, statuses, decisions,
findings, roles, audit-log actions. Every name comes from the one vocabulary, `drgaudit.labels` (facts and
fields, rule parameters through their descriptions, coded values); this module only picks the table a
page needs and words what the vocabulary does not know neutrally — never a field name on a page."""

from __future__ import annotations

from drgaudit import labels
from drgaudit.engine.pack import RulePack
from drgaudit.engine.vocabulary import param_labels

V = labels.VALUE_LABELS
ASSIST_RESULTS = V["assist.result"]
ASSIST_SIDES = V["assist.side"]
OUTCOME_WORDS = V["finding.rereview"]
LOG_ACTIONS = V["log.action"]
CHANNELS = V["log.channel"]

NAMES = {
    "status": V["case.status"],
    "decision": V["decision.kind"],
    "outcome": V["meeting.outcome"],
    "finding": V["finding.state"],
    "family": V["family"],
    "action": V["action"],
    "severity": V["severity"],
    "scheme": V["payment_scheme"],
    "role": V["role"],
    "assist_result": ASSIST_RESULTS,
    "side": ASSIST_SIDES,
    "rereview": OUTCOME_WORDS,
}


def fact_label(name: str) -> str:
    """A fact's Chinese name (`earlier.x`: the earlier stay's); a name the vocabulary lacks gets a neutral label."""
    text = labels.label(name)
    return text if _named(text, name) else "其他依据"


def threshold_label(name: str, rule_id: str, pack: RulePack | None) -> str:
    """A threshold's Chinese name: the rule parameter's description, else the region setting's label."""
    extra: dict[str, str] = {}
    if pack is not None:
        rule = next((r for r in pack.rules if r.id == rule_id), None)
        if rule is not None:
            extra = param_labels(rule)
    text = labels.label(name, extra)
    if _named(text, name):
        return text
    return "规则阈值" if name.startswith("params.") else "统筹区参数"


def _named(text: str, name: str) -> bool:
    """Whether the vocabulary's text really names `name`: its fallbacks repeat the field name
    (`就医地参数 drg_high_ratio`), which a page must not show."""
    return text != name and labels.flat_to_dotted(name).rsplit(".", 1)[-1] not in text


def name(kind: str, code: str | None) -> str:
    """The Chinese name of a code of a kind (status, decision, family…); the code itself if unknown."""
    if code is None:
        return "—"
    return NAMES[kind].get(code, code)


def log_action(action: str) -> str:
    """An audit-log action in Chinese."""
    return LOG_ACTIONS.get(action, action)


def log_actor(entry: object) -> str:
    """Who made a logged change, in Chinese: `王秘书（会议秘书，网页）`."""
    actor = str(getattr(entry, "actor", ""))
    role = getattr(entry, "role", None)
    channel = getattr(entry, "channel", None)
    parts = []
    if role:
        base, _, scope = str(role).partition(":")
        label = V["role"].get(base) or V["log.actor"].get(base, base)
        parts.append(f"{label} {scope}".strip())
    if channel:
        parts.append(CHANNELS.get(str(channel), str(channel)))
    return f"{actor}（{'，'.join(parts)}）" if parts else actor
