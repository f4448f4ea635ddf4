"""Evidence digests of stored hits: what the review queue and the hospital findings compare to tell new
evidence from old (`review.evidence_hash`, `findings`' hash of a finding's evidence), and the table in
which a stored screen keeps them for the hits it stores, worked out while its workers still screen.

A digest is the SHA-256 (first 32 hex digits) of the canonical JSON (`auditlog.canonical`) of a few of
the hit's columns and the parts of its evidence that are about the claim (`EVIDENCE_KEYS`).
"""

from __future__ import annotations

import hashlib
import math
from json.encoder import encode_basestring as _encode_text  # what json writes for a text (no ASCII escapes)
from typing import Any

from drgaudit.casebook.auditlog import canonical, encode_canonical

# The parts of a hit that are evidence about the claim; the wording of the message and the rule file's
# version are not, so editing a message template or a rule's title reopens nothing.
EVIDENCE_KEYS = ("facts", "thresholds", "related_claims")


def case_hash(hit: Any) -> str:
    """A review case's digest of a stored hit's evidence: severity, action, amount at risk, and the facts,
    thresholds and related claims it rests on (a decided case reopens when it changes)."""
    evidence = hit.evidence or {}
    payload = {
        "severity": hit.severity,
        "action": hit.action,
        "amount_at_risk": round(float(hit.amount_at_risk), 2),
        **{key: evidence.get(key) for key in EVIDENCE_KEYS},
    }
    return _digest(canonical(payload) or "")


def finding_hash(hit: Any) -> str:
    """A finding's digest of a stored hit's evidence: action, amount, facts, thresholds, related claims."""
    evidence = hit.evidence or {}
    payload = {
        "action": hit.action,
        "amount": round(float(hit.amount_at_risk), 2),
        **{key: evidence.get(key) for key in EVIDENCE_KEYS},
    }
    return _digest(canonical(payload) or "")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def both_hashes(severity: str, action: str, amount: float, evidence: dict[str, Any]) -> tuple[str, str]:
    """(`case_hash`, `finding_hash`) of a hit with these columns (text, text, a finite float), the evidence
    parts encoded once.

    Each is `canonical` of its payload, written out here: with sorted keys and no spaces, the JSON of a
    dict is its keys and values' JSON in key order (tests/test_evidence_digests.py compares the two)."""
    facts, thresholds, related = (encode_canonical(evidence.get(key)) for key in EVIDENCE_KEYS)
    head = '{"action":' + _encode_text(action)
    tail = f',"facts":{facts},"related_claims":{related}'
    money = float.__repr__(round(float(amount), 2))  # what json writes for a finite float
    case = f'{head},"amount_at_risk":{money}{tail},"severity":{_encode_text(severity)},"thresholds":{thresholds}}}'
    finding = f'{head},"amount":{money}{tail},"thresholds":{thresholds}}}'
    return _digest(case), _digest(finding)


_PLAIN = frozenset((str, int, float, bool, type(None)))


def _plain(value: Any) -> bool:
    """Whether a value reads back from its stored JSON as it is: dicts with text keys, lists, and text,
    numbers, booleans and null (a tuple reads back as a list, which has the same JSON)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, inner in item.items():
                if type(key) is not str:
                    return False
                if type(inner) not in _PLAIN:
                    stack.append(inner)
        elif kind is list or kind is tuple:
            stack.extend(inner for inner in item if type(inner) not in _PLAIN)
        elif kind not in _PLAIN:
            return False
    return True


# A slot of `EvidenceDigests`: a flag byte, then the content hash, the case digest and the finding digest
# (16 bytes each, from their 32 hex digits).
_SLOT = 49


class EvidenceDigests:
    """The two evidence digests of the hits a stored screen stores, by the ordinal of their row.

    `HitStore` adds each hit while the workers screen: a new one under its ordinal in this run, an
    unchanged one under the ordinal its row keeps from an earlier run. The queue and the findings,
    refreshed after, look a stored row up by its ordinal and content hash, and work the digests out from
    the row's evidence only when they are not found: two hits under one ordinal keep the later one's, and
    a slot holding other content is not the row's (the same content has the same digests). A hit whose
    columns or evidence would not read back exactly as they are (an amount with more than two decimals,
    which PostgreSQL rounds; a value JSON changes) is not kept. Memory: 49 bytes per ordinal.
    """

    def __init__(self) -> None:
        self._slots = bytearray()
        self.kept = 0

    def add(self, ordinal: int, content_hash: str, hit: Any) -> None:
        """Keep the digests of the hit stored at `ordinal` with this content hash, if they can be known."""
        amount, severity, action, evidence = hit.amount_at_risk, hit.severity, hit.action, hit.evidence
        if type(amount) is int:
            amount = float(amount)
        if (
            type(amount) is not float
            or not math.isfinite(amount)
            or round(amount, 2) != amount
            or type(severity) is not str
            or type(action) is not str
            or len(content_hash) != 32
        ):
            return
        if type(evidence) is not dict or not all(_plain(evidence.get(key)) for key in EVIDENCE_KEYS):
            return
        case, finding = both_hashes(severity, action, amount, evidence)
        end = (ordinal + 1) * _SLOT
        if len(self._slots) < end:
            self._slots.extend(bytes(end - len(self._slots)))
        self._slots[end - _SLOT : end] = b"\x01" + bytes.fromhex(content_hash + case + finding)
        self.kept += 1

    def get(self, ordinal: int | None, content_hash: str | None) -> tuple[str, str] | None:
        """(case digest, finding digest) of a stored row, or None when they are not kept."""
        if ordinal is None or content_hash is None or ordinal < 0:
            return None
        start = ordinal * _SLOT
        slot = self._slots[start : start + _SLOT]
        if len(slot) != _SLOT or slot[0] != 1 or slot[1:17].hex() != content_hash:
            return None
        return slot[17:33].hex(), slot[33:49].hex()
