"""Building a casebook for the review-queue tests: claims imported from CSV, hits stored as a screen stores
them (`store_hits`), and the queue refreshed from them (`refresh_cases`), all through the real functions.

Claims default to hospital H001 in treatment region 510100, DRG, discharged 2025-03-10, so the tests
control the quota base (a hospital's DRG claims discharged in the month).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session

from drgaudit.casebook.findings import refresh_findings
from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.review import RefreshReport, refresh_cases
from drgaudit.casebook.screening import ScreenRunCreate, finish_run, start_run, store_hits
from drgaudit.engine.hits import Hit
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.pack import RulePack
from tests.conftest import claim_row, write_table

REGION = "510100"
HOSPITAL = "H001"


def claim(n: int, **overrides: Any) -> dict[str, str]:
    """Claim `n` of hospital H001 in 510100, DRG, 2025-03-01 to 2025-03-10; overrides replace fields."""
    fields = {
        "claim_id": f"C{n:06d}", "patient_id": f"P{n:05d}", "hospital_id": HOSPITAL, "treatment_region": REGION,
        "insured_region": "510700", "admit_date": "2025-03-01", "discharge_date": "2025-03-10",
        "payment_scheme": "DRG", "group_code": "FM19", "total_cost": "20000.00", "fund_paid": "14000.00",
        "self_pay": "4000.00", "self_expense": "2000.00", "fee_drug": "8000.00", "fee_material": "4000.00",
        "fee_bed": "500.00",
    }  # fmt: skip
    fields.update(overrides)
    return claim_row(n, **fields)


def import_claims(
    session: Session, folder: Path, rows: list[dict[str, str]], name: str = "claims.csv"
) -> int:
    """Import claim rows as one batch; returns the batch id."""
    report = import_file(write_table(folder / name, rows), kind="claims", session=session)
    assert report.rows_rejected == 0, report.first_errors
    return report.batch_id


def hit(
    claim_id: str,
    rule_id: str,
    *,
    action: str = "special_review",
    severity: str = "high",
    amount: float = 1000.0,
    message: str | None = None,
    facts: dict[str, Any] | None = None,
    region: str = REGION,
) -> Hit:
    """A hit as the engine produces it (DATA-CONTRACT fields plus where it came from)."""
    return Hit(
        claim_id=claim_id, rule_id=rule_id, family="outlier_review", severity=severity, action=action,
        amount_at_risk=amount, message=message or f"{claim_id} 命中 {rule_id}",
        evidence={"facts": facts or {"total_cost": 20000.0}, "thresholds": {}, "related_claims": [], "rule": {"id": rule_id, "version": "v1"}},
        patient_id="P", region=region, rule_file="rules/outliers.yaml", rule_version="v1",
    )  # fmt: skip


def screen(
    session: Session,
    batch_id: int,
    hits: Iterable[Hit],
    pack: RulePack,
    actor: str = "screener",
    findings: bool = False,
) -> RefreshReport:
    """Store hits for a batch as a screening run does, then refresh the review queue from them (and, with
    `findings`, the hospital findings, as `screen_batch` does)."""
    run = start_run(
        session=session,
        run=ScreenRunCreate(
            batch_id=batch_id,
            source="test",
            rules_dir="rules",
            rules_version="v1",
            codes_source="x",
            codes_version="x",
        ),
    )
    store_hits(session=session, run=run, batch_id=batch_id, hits=list(hits))
    if findings:
        refresh_findings(session=session, batch_id=batch_id, pack=pack, actor=actor, commit=False)
    report = refresh_cases(session=session, batch_id=batch_id, pack=pack, actor=actor)
    finish_run(session=session, run=run, status="done", patients=0, claims=0)
    return report


def bundled_pack() -> RulePack:
    """The bundled rule pack (national review settings)."""
    return load_pack(bundled_rules_dir())


def pack_with_settings(folder: Path, **settings: Any) -> RulePack:
    """A copy of the bundled rule pack whose national settings are changed as given."""
    import shutil

    target = folder / "rules"
    if not target.exists():
        shutil.copytree(bundled_rules_dir(), target)
    path = target / "regions" / "national.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["settings"].update(settings)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_pack(target)
