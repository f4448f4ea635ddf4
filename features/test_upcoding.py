"""高编高套（UPC-001…UPC-004）: MCC without evidence, severity the codes do not support, surgical groups
without a procedure, and hospitals whose cross-region CC/MCC share stands far above their peers."""

from __future__ import annotations

from pytest_bdd import given, scenarios, then

from features.conftest import Audit, step
from tests.engine_support import claim as base_claim

scenarios("upcoding.feature")


@given("各医院本批次异地DRG病例如下")
def hospital_case_mix(audit: Audit, datatable: list[list[str]]) -> None:
    """Per hospital, that many cross-region pneumonia stays, the first ones in ES33 (with a CC) and the rest in ES35."""
    header, *rows = datatable
    for cells in rows:
        row = dict(zip(header, (c.strip() for c in cells), strict=True))
        hospital_id, total, with_cc = row["医院"], int(row["病例数"]), int(row["伴并发症病组病例数"])
        region = audit.hospitals[hospital_id]["region"]
        for index in range(total):
            claim = base_claim()
            cc = index < with_cc
            claim.update(
                claim_id=f"{hospital_id}-{index:03d}",
                patient_id=f"P-{hospital_id}-{index:03d}",
                hospital_id=hospital_id,
                treatment_region=region,
                insured_region="510700",
                group_code="ES33" if cc else "ES35",
                secondary_dx=["E87.600"] if cc else ["I10.x00x002"],
            )
            audit.batch.append(claim)


def _hospital_hits(audit: Audit, hospital_id: str, group_code: str | None) -> list[tuple[str, bool]]:
    assert audit.hits is not None, "还没有筛查"
    hit_ids = {h.claim_id for h in audit.hits if h.rule_id == "UPC-004"}
    return [
        (c["claim_id"], c["claim_id"] in hit_ids)
        for c in audit.batch
        if c["hospital_id"] == hospital_id and (group_code is None or c["group_code"] == group_code)
    ]


@then(step("医院 {医院} 伴并发症病组的异地病例都命中 UPC-004"))
def all_cc_cases_hit(audit: Audit, 医院: str) -> None:
    cases = _hospital_hits(audit, 医院, "ES33")
    assert cases and all(hit for _, hit in cases), cases


@then(step("医院 {医院} 不伴并发症病组的病例没有命中 UPC-004"))
def no_plain_case_hit(audit: Audit, 医院: str) -> None:
    cases = _hospital_hits(audit, 医院, "ES35")
    assert cases and not any(hit for _, hit in cases), cases


@then(step("医院 {医院} 的病例都没有命中 UPC-004"))
def hospital_not_flagged(audit: Audit, 医院: str) -> None:
    cases = _hospital_hits(audit, 医院, None)
    assert cases and not any(hit for _, hit in cases), cases
