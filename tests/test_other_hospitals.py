"""What a hospital reads of other hospitals in a hit: their claims, codes and names hidden, whole codes
only, its own name kept even when another hospital's name is part of it, and the case page's facts too."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from drgaudit.casebook.ingest import import_file
from drgaudit.reports.otherhospitals import OtherHospitals
from tests.conftest import claim_row, write_table


def _book(session: Session, tmp_path: Path) -> None:
    hospitals = [
        {"hospital_id": "H1", "name": "示例医院东院", "region": "510100", "level": "3"},
        {"hospital_id": "H10", "name": "示例医院", "region": "510100", "level": "3"},
        {"hospital_id": "H2", "name": "乙县医院", "region": "510100", "level": "2"},
    ]
    import_file(write_table(tmp_path / "h.csv", hospitals), kind="hospitals", session=session)
    claims = [
        claim_row(1, claim_id="A1", hospital_id="H1"),
        claim_row(2, claim_id="A10", hospital_id="H10"),
        claim_row(3, claim_id="B2", hospital_id="H2"),
    ]
    import_file(write_table(tmp_path / "c.csv", claims), kind="claims", session=session)


def test_other_hospitals_claims_codes_and_names_are_hidden(session: Session, tmp_path: Path) -> None:
    _book(session, tmp_path)
    others = OtherHospitals.of(session=session, hospital_id="H1", related=["A10", "B2", "A1", "GONE"])
    assert (
        others.is_other("A10")
        and others.is_other("B2")
        and others.is_other("GONE")
        and not others.is_other("A1")
    )
    text = "本次A1（H1，示例医院东院）与前次A10（H10，示例医院）重叠；又与B2（H2，乙县医院）相关"
    assert (
        others.hide(text)
        == "本次A1（H1，示例医院东院）与前次他院结算清单（他院，他院）重叠；又与他院结算清单（他院，他院）相关"
    )
    # The other way round: H10 reads H1's code and name hidden, its own (a part of H1's name) kept.
    h10 = OtherHospitals.of(session=session, hospital_id="H10", related=["A1"])
    assert (
        h10.hide("A1（H1，示例医院东院）；本院H10示例医院") == "他院结算清单（他院，他院）；本院H10示例医院"
    )
    # Nothing related: nothing changes, not even a code that happens to be there.
    assert (
        OtherHospitals.of(session=session, hospital_id="H1", related=[]).hide("H2 乙县医院") == "H2 乙县医院"
    )
