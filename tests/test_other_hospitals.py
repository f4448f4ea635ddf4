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


def test_the_api_hides_other_hospitals_from_a_hospital_s_key_after_a_real_screen(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    """GET /api/v1/cases/{id} with a hospital's key gave the hits' messages as stored: the overlapping-stay
    rule (DQ-004) and the death-elsewhere rule (DQ-013) named the other hospital's claim, code and name,
    which its case page hides. Now the API hides them as the page does; an auditor's key reads them."""
    from fastapi.testclient import TestClient
    from sqlmodel import select
    from typer.testing import CliRunner

    from drgaudit.casebook.review_models import ReviewCase
    from drgaudit.cli.root import app as cli
    from drgaudit.services import apikeys
    from drgaudit.services.access import Principal
    from tests.web_support import make_accounts, web_app

    hospitals = [
        {"hospital_id": "H1", "name": "东城人民医院", "region": "510100", "level": "3"},
        {"hospital_id": "H2", "name": "西城人民医院", "region": "510100", "level": "3"},
    ]
    import_file(write_table(tmp_path / "h.csv", hospitals), kind="hospitals", session=session)
    stays = [  # one patient: Z1 (H2) overlaps Y1 (H1); V1 (H1) after a death at H2 (W1)
        ("Y1", "H1", "2025-03-10", "2025-03-15", "1"),
        ("Z1", "H2", "2025-03-12", "2025-03-20", "1"),
        ("W1", "H2", "2025-04-01", "2025-04-05", "5"),
        ("V1", "H1", "2025-04-10", "2025-04-15", "1"),
    ]
    claims = [
        claim_row(
            n,
            claim_id=cid,
            patient_id="P9",
            hospital_id=h,
            admit_date=a,
            discharge_date=d,
            discharge_mode=mode,
            insured_region="510300",
            treatment_region="510100",
            principal_dx="J18.900",
            secondary_dx="",
            procedures="",
        )  # fmt: skip
        for n, (cid, h, a, d, mode) in enumerate(stays)
    ]
    batch = import_file(write_table(tmp_path / "c.csv", claims), kind="claims", session=session).batch_id
    screened = CliRunner().invoke(
        cli, ["screen", "--batch", str(batch), "--db", db_url, "--output", str(tmp_path / "hits.jsonl")]
    )
    assert screened.exit_code == 0, screened.output
    make_accounts(session, ("h1", "hospital:H1"), ("审核员", "auditor"))
    keys = {
        name: apikeys.add_key(
            session=session, principal=Principal.owner("root"), username=name, name="t"
        ).text
        for name in ("h1", "审核员")
    }
    client = TestClient(web_app(db_url, api=True))
    case = session.exec(select(ReviewCase).where(ReviewCase.claim_id == "V1")).one()

    def messages(who: str) -> str:
        answer = client.get(f"/api/v1/cases/{case.id}", headers={"Authorization": f"Bearer {keys[who]}"})
        assert answer.status_code == 200, answer.text
        return " ".join(hit["message"] for hit in answer.json()["hits"])

    hospital = messages("h1")
    assert "在他院死亡离院（他院结算清单）" in hospital, hospital
    assert not any(secret in hospital for secret in ("西城人民医院", "W1", "Z1", "H2"))
    assert "西城人民医院死亡离院（W1）" in messages("审核员")


def test_the_queue_offers_a_hospital_only_its_own_hospital_to_filter_by(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    """The queue's 医院 filter listed every designated hospital by name to a hospital's account (the
    reports page offers it its own only); now its own, and an auditor still gets them all."""
    from tests.web_support import Browser, make_accounts, web_app

    _book(session, tmp_path)
    make_accounts(session, ("h1", "hospital:H1"), ("审核员", "auditor"))
    site = web_app(db_url)
    hospital, auditor = Browser(site), Browser(site)
    assert hospital.login("h1").status_code == 303 and auditor.login("审核员").status_code == 303
    page = hospital.get("/queue").text
    assert '<option value="H1"' in page and "乙县医院" not in page and '<option value="H10"' not in page
    page = auditor.get("/queue").text
    assert all(f'<option value="{h}"' in page for h in ("H1", "H10", "H2"))
