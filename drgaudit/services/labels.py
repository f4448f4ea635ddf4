"""Chinese names for what the pages (and the API) show: statuses, decisions, findings, roles, log entries —
all from the one vocabulary, `drgaudit.labels`; never a field name on a page. (A hit's facts and thresholds
come labelled from `reports.casefile.CaseFiles.hit_view`.)"""

from __future__ import annotations

from drgaudit import labels
from drgaudit.casebook.accounts import ROLE_LABELS

# The page's kinds of codes → the vocabulary's fields.
KINDS = {
    "status": "case.status",
    "decision": "decision.kind",
    "outcome": "meeting.outcome",
    "finding": "finding.state",
    "family": "family",
    "action": "action",
    "severity": "severity",
    "scheme": "payment_scheme",
    "role": "role",
    "assist_result": "assist.result",
    "side": "assist.side",
    "rereview": "finding.outcome",
}
ASSIST_RESULTS = labels.VALUE_LABELS["assist.result"]


def name(kind: str, code: str | None) -> str:
    """The Chinese name of a code of a kind (status, decision, family…); the code itself if unknown."""
    return labels.value_label(KINDS[kind], code)


LOG_ACTIONS = {
    "created": "生成", "refreshed": "重新筛查后更新", "reopened": "因新证据重新打开", "withdrawn": "撤回",
    "assigned": "分派", "scheduled": "排入会议", "decided": "作出决定", "closed": "结案", "deferred": "暂缓至下次会议",
    "appealed": "提出申诉", "replied": "回复", "opinion_given": "发表专家意见", "opinion_revised": "修改专家意见",
    "escalated": "提交评议会议", "attached": "上传附件", "accepted": "医院认可", "confirmed": "逾期视为认可",
    "rereviewed": "复审", "rereview_proposed": "复审意见（待第二人确认）", "rereview_confirmed": "第二复审人确认",
    "requested": "发起协查", "answered": "答复协查", "attendees_added": "登记参会人员",
}  # fmt: skip
CHANNELS = labels.VALUE_LABELS["channel"]


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
        label = ROLE_LABELS.get(
            base, {"owner": "本机所有者", "system": "系统自动", "self": "本人"}.get(base, base)
        )
        parts.append(f"{label} {scope}".strip())
    if channel:
        parts.append(CHANNELS.get(str(channel), str(channel)))
    return f"{actor}（{'，'.join(parts)}）" if parts else actor
