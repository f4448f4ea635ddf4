"""The states and kinds of the review work, as plain constants (no database imports: the CLI reads them
for its help and its checks before it opens a casebook)."""

from __future__ import annotations

# Case lifecycle. `withdrawn`: the claim no longer has a hit that makes a case (before any decision).
CASE_STATUSES = ("new", "triaged", "scheduled", "decided", "closed", "appealed", "withdrawn")
OPEN_STATUSES = ("new", "triaged", "scheduled", "appealed")
# Decision kinds: pay by the group standard, approve a special payment, deduct, merge with another
# claim (split hospitalisation), refer for investigation.
DECISION_KINDS = ("standard", "special", "deduct", "merge", "refer")
ASSIST_RESULTS = ("confirmed", "partly_confirmed", "not_confirmed")
# Hospital findings (疑点): open → accepted | confirmed (unanswered at the due date) | appealed →
# upheld | overturned | adjusted (re-review) | escalated (to a meeting); withdrawn when no longer hit.
FINDING_STATES = (
    "open", "accepted", "confirmed", "appealed", "upheld", "overturned", "adjusted", "escalated", "withdrawn",
)  # fmt: skip

# Roles of an account and the kind of scope each needs (None: none).
ROLE_SCOPES: dict[str, str | None] = {
    "admin": None,
    "auditor": "region",
    "secretary": "region",
    "expert": "region",
    "hospital": "hospital",
    "insured_region": "insured",
    "viewer": "region",
    "integration": "region",
}

# How many days a new API key works unless told, and the longest it may (`users add-key --days`).
KEY_DAYS = 365
MAX_KEY_DAYS = 3 * 365
