"""An auditor bound to a region imports only that region's rows: a claim treated elsewhere, another
region's hospital or group table, or a row that would relabel a record stored as another region's is
rejected with its reason (the rest of the file goes in), from the library, the command line and the
pages; the code tables, which every region's screening uses, are refused to such an auditor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from drgaudit.casebook import queries
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.models import Claim, GroupEntry, Hospital, RejectedRow
from drgaudit.casebook.screenjobs import ScreenJob, finish_job, insert_job
from drgaudit.cli.root import app as cli
from tests.conftest import claim_row, write_table
from tests.test_web_browser import casebook_url  # noqa: F401  (a SQLite file, or the test's PostgreSQL)
from tests.web_support import Browser, make_accounts, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def web_session(casebook_url: str) -> Iterator[Session]:  # noqa: F811
    """A session on the casebook a page serves: a SQLite file (or the test's PostgreSQL database), not the
    shared in-memory one, as the page's import writes on a thread while requests read."""
    engine = make_engine(casebook_url)
    with Session(engine) as opened:
        yield opened
    engine.dispose()


HOSPITAL_COLUMNS = ["hospital_id", "name", "region", "level"]


def _claims(tmp_path: Path, name: str, *regions_and_ids: tuple[str, str]) -> Path:
    rows = [
        claim_row(n, claim_id=cid, treatment_region=region) for n, (region, cid) in enumerate(regions_and_ids)
    ]
    return write_table(tmp_path / name, rows)


def _rejected(session: Session, batch_id: int | None) -> list[tuple[int, str, str]]:
    rows = session.exec(select(RejectedRow).where(RejectedRow.batch_id == batch_id).order_by(RejectedRow.row))
    return [(r.row, r.field, r.reason) for r in rows]


def test_claims_of_other_regions_are_rejected_row_by_row(session: Session, tmp_path: Path) -> None:
    path = _claims(tmp_path, "c.csv", ("510300", "A1"), ("510100", "A2"), ("510300", "A3"), ("510700", "A4"))
    report = import_file(path, kind="claims", session=session, regions={"510300"})
    assert (report.rows_ok, report.rows_rejected, report.new) == (2, 2, 2)
    assert [(e.row, e.field) for e in report.first_errors] == [
        (3, "treatment_region"),
        (5, "treatment_region"),
    ]
    assert (
        "510100 is outside the regions this import may write into (510300)" in report.first_errors[0].reason
    )
    assert sorted(session.exec(select(Claim.claim_id)).all()) == ["A1", "A3"]
    assert [r[:2] for r in _rejected(session, report.batch_id)] == [
        (3, "treatment_region"),
        (5, "treatment_region"),
    ]
    # The rejects file holds them too, as every rejected row.
    assert report.rejects_path is not None and "A2" not in report.rejects_path.read_text(encoding="utf-8-sig")
    assert "treatment_region" in report.rejects_path.read_text(encoding="utf-8-sig")


def test_a_claim_stored_as_another_regions_cannot_be_relabelled(session: Session, tmp_path: Path) -> None:
    """510100's claim B1, sent again by a 510300 import as treated in 510300, would move it (and its
    review) into 510300: refused, the stored claim unchanged. A 510300 claim revised by 510300 goes in."""
    first = import_file(
        _claims(tmp_path, "first.csv", ("510100", "B1"), ("510300", "B2")), kind="claims", session=session
    )
    assert first.rows_ok == 2
    again = _claims(tmp_path, "again.csv", ("510300", "B1"), ("510300", "B2"))
    rows = [
        claim_row(7, claim_id="B1", treatment_region="510300"),
        claim_row(8, claim_id="B2", treatment_region="510300"),
    ]
    write_table(again, rows)
    report = import_file(again, kind="claims", session=session, regions={"510300"})
    assert (report.rows_ok, report.rows_rejected, report.revised) == (1, 1, 1)
    error = report.first_errors[0]
    assert (error.row, error.field) == (2, "claim_id")
    assert (
        error.reason
        == "B1 is stored as a claim treated in 510100, outside the regions this import may write into (510300)"
    )
    session.expire_all()
    assert session.get(Claim, "B1").treatment_region == "510100"
    assert session.get(Claim, "B2").revision == 2


def test_a_claim_at_another_regions_hospital_is_rejected(session: Session, tmp_path: Path) -> None:
    """A 510300 import put a claim 'treated in 510300' at H9, a hospital of 510100: screened, its case and
    findings went before H9 (its hospital accounts read and answer them), from an auditor outside H9's
    region. Now such a row is rejected; a claim at a 510300 hospital, or at one not stored, goes in."""
    hospitals = [
        {"hospital_id": "H9", "name": "成都某院", "region": "510100", "level": "3"},
        {"hospital_id": "H3", "name": "自贡某院", "region": "510300", "level": "2"},
    ]
    import_file(
        write_table(tmp_path / "h.csv", hospitals, columns=HOSPITAL_COLUMNS),
        kind="hospitals",
        session=session,
    )
    rows = [
        claim_row(1, claim_id="K1", treatment_region="510300", hospital_id="H9"),
        claim_row(2, claim_id="K2", treatment_region="510300", hospital_id="H3"),
        claim_row(3, claim_id="K3", treatment_region="510300", hospital_id="H404"),
    ]
    report = import_file(
        write_table(tmp_path / "c.csv", rows), kind="claims", session=session, regions={"510300"}
    )
    assert (report.rows_ok, [(e.row, e.field) for e in report.first_errors]) == (2, [(2, "hospital_id")])
    assert report.first_errors[0].reason == (
        "H9 is a hospital in 510100, outside the regions this import may write into (510300)"
    )
    assert sorted(session.exec(select(Claim.claim_id)).all()) == ["K2", "K3"]
    # Without a restriction nothing is checked (the data-quality rule DQ on hospital.region flags it).
    assert (
        import_file(write_table(tmp_path / "c2.csv", rows[:1]), kind="claims", session=session).rows_ok == 1
    )


def test_without_a_region_restriction_nothing_is_checked(session: Session, tmp_path: Path) -> None:
    import_file(_claims(tmp_path, "first.csv", ("510100", "D1")), kind="claims", session=session)
    report = import_file(
        _claims(tmp_path, "again.csv", ("510300", "D1"), ("510700", "D2")), kind="claims", session=session
    )
    assert (report.rows_ok, report.rows_rejected) == (2, 0)


def test_hospitals_and_group_tables_of_other_regions_are_rejected(session: Session, tmp_path: Path) -> None:
    stored = write_table(
        tmp_path / "h0.csv", [{"hospital_id": "H9", "name": "成都某院", "region": "510100", "level": "3"}]
    )
    import_file(stored, kind="hospitals", session=session)
    hospitals = write_table(
        tmp_path / "h.csv",
        [
            {"hospital_id": "H1", "name": "绵阳某院", "region": "510700", "level": "2"},
            {"hospital_id": "H2", "name": "自贡某院", "region": "510300", "level": "2"},
            {"hospital_id": "H9", "name": "改名", "region": "510300", "level": "3"},
        ],
        columns=HOSPITAL_COLUMNS,
    )
    report = import_file(hospitals, kind="hospitals", session=session, regions={"510300"})
    assert [(e.row, e.field) for e in report.first_errors] == [(2, "region"), (4, "hospital_id")]
    assert "H9 is stored as a hospital in 510100" in report.first_errors[1].reason
    session.expire_all()
    assert session.get(Hospital, "H9").name == "成都某院" and session.get(Hospital, "H2") is not None
    assert session.get(Hospital, "H1") is None

    groups = write_table(
        tmp_path / "g.csv",
        [
            {"region": "510300", "scheme": "DRG", "group_code": "FM19", "weight": "1.2", "avg_cost": "15000"},
            {"region": "510100", "scheme": "DRG", "group_code": "FM19", "weight": "9.9", "avg_cost": "99999"},
        ],
    )
    report = import_file(groups, kind="groups", session=session, regions={"510300"}, version="v1")
    assert (report.rows_ok, [(e.row, e.field) for e in report.first_errors]) == (1, [(3, "region")])
    assert [g.region for g in session.exec(select(GroupEntry)).all()] == ["510300"]


def test_the_command_line_restricts_a_regional_auditors_import(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    make_accounts(session, ("审核丙", "auditor:510300"), ("审核员", "auditor"))
    path = _claims(tmp_path, "c.csv", ("510300", "E1"), ("510100", "E2"))
    result = CliRunner().invoke(cli, ["import", "claims", str(path), "--user", "审核丙", "--db", db_url])
    assert "1 imported" in result.output and "1 rejected" in result.output, result.output
    assert "E2" not in session.exec(select(Claim.claim_id)).all()
    # The code tables are the province's: a regional auditor may not load them; an auditor may.
    codes = Path(__file__).resolve().parents[1] / "drgaudit" / "codesets" / "chs-drg-1.1"
    refused = CliRunner().invoke(cli, ["import", "codes", str(codes), "--user", "审核丙", "--db", db_url])
    assert refused.exit_code == 1 and "code tables apply to every region" in refused.output, refused.output
    loaded = CliRunner().invoke(cli, ["import", "codes", str(codes), "--user", "审核员", "--db", db_url])
    assert loaded.exit_code == 0, loaded.output


def test_the_import_page_rejects_another_regions_rows(
    casebook_url: str,  # noqa: F811
    web_session: Session,
    tmp_path: Path,
) -> None:
    make_accounts(web_session, ("审核丙", "auditor:510300"))
    site = web_app(casebook_url)
    browser = Browser(site)
    assert browser.login("审核丙").status_code == 303
    browser.token = browser.csrf("/batches")
    path = _claims(tmp_path, "c.csv", ("510300", "F1"), ("510100", "F2"))
    job, page = browser.upload("c.csv", path.read_bytes())
    assert page.status_code == 200 and "导入 1 行" in page.text and "拒收 1 行" in page.text, page.text[:400]
    assert "510100 不在本次导入可写入的统筹区（510300）之内" in page.text
    # The import ran on the server's thread, as 审核丙 with its role and the channel of the pages.
    stored = web_session.get(ScreenJob, job["id"])
    assert stored is not None and (stored.started_by, stored.role, stored.channel) == (
        "审核丙",
        "auditor:510300",
        "web",
    )
    batch = queries.get_batch(session=web_session, batch_id=job["batch_id"])
    assert batch is not None and batch.imported_by == "审核丙"
    assert web_session.exec(select(Claim.claim_id)).all() == ["F1"]


def test_a_regional_auditor_downloads_only_the_rejects_of_its_own_imports(
    casebook_url: str,  # noqa: F811
    web_session: Session,
    tmp_path: Path,
) -> None:
    make_accounts(web_session, ("审核丙", "auditor:510300"), ("审核员", "auditor"))
    site = web_app(casebook_url)
    batches = {}
    for n, user in enumerate(("审核员", "审核丙")):
        browser = Browser(site)
        assert browser.login(user).status_code == 303
        browser.token = browser.csrf("/batches")
        path = tmp_path / f"c{n}.csv"
        rows = [
            claim_row(1, claim_id=f"G{n}", treatment_region="510300"),
            claim_row(2, claim_id="", treatment_region="510100"),
        ]
        write_table(path, rows)
        _job, page = browser.upload(path.name, path.read_bytes())
        assert "拒收 1 行" in page.text, page.text[:3000]
        batches[user] = browser, max(b.id for b in queries.list_batches(session=web_session))
    regional, own = batches["审核丙"]
    _unscoped, others = batches["审核员"]
    assert regional.get(f"/batches/{own}/rejects.xlsx").status_code == 200
    assert regional.get(f"/batches/{others}/rejects.xlsx").status_code == 404
    assert batches["审核员"][0].get(f"/batches/{own}/rejects.xlsx").status_code == 200


def test_a_regional_auditor_sees_only_its_regions_batches_and_their_screens(
    casebook_url: str,  # noqa: F811
    web_session: Session,
    tmp_path: Path,
) -> None:
    """The batches page listed every batch to 审核丙 (auditor:510300): another region's file, its counts,
    its screen's hits and amount at risk, a link to rejects it could not download (404) and a screen
    button it could not use; its job poll answered too. Now it lists the batches 审核丙 imported and the
    claims batches of 510300; another region's job is not found."""
    make_accounts(web_session, ("审核丙", "auditor:510300"), ("审核员", "auditor"))
    site = web_app(casebook_url)
    ids = {}
    for name, user, region in (("chengdu.csv", "审核员", "510100"), ("zigong-all.csv", "审核员", "510300")):
        browser = Browser(site)
        assert browser.login(user).status_code == 303
        browser.token = browser.csrf("/batches")
        rows = [claim_row(1, claim_id=f"{region}-1", treatment_region=region), claim_row(2, claim_id="")]
        _job, page = browser.upload(name, write_table(tmp_path / name, rows).read_bytes())
        assert "拒收 1 行" in page.text
        ids[name] = max(b.id or 0 for b in queries.list_batches(session=web_session))
    job = insert_job(
        session=web_session,
        batch_id=ids["chengdu.csv"],
        started_by="审核员",
        role="auditor",
        channel="web",
        total=1,
    )
    finish_job(session=web_session, job_id=job.id or 0, status="done", result={
        "claims": 1, "hits": 7, "amount_at_risk": 98765.4, "cases_created": 1, "cases_updated": 0,
        "findings_created": 0, "claims_failed": 0, "patients_failed": 0, "seconds": 1.0,
    })  # fmt: skip

    regional = Browser(site)
    assert regional.login("审核丙").status_code == 303
    page = regional.get("/batches").text
    assert "zigong-all.csv" in page and "chengdu.csv" not in page and "98,765.40" not in page
    # 510300's batch imported by another: listed, its rejects (any region's rows) not offered.
    assert f"/batches/{ids['zigong-all.csv']}/rejects.xlsx" not in page
    assert regional.get(f"/batches/jobs/{job.id}").status_code == 404
    assert regional.get(f"/batches?job={job.id}").status_code == 404
    # The unscoped auditor still sees both, with the other's result.
    unscoped = Browser(site)
    assert unscoped.login("审核员").status_code == 303
    assert "chengdu.csv" in unscoped.get("/batches").text
    assert "98,765.40" in unscoped.get(f"/batches?job={job.id}").text
    assert unscoped.get(f"/batches/jobs/{job.id}").json()["kind"] == "ok"


def test_the_reports_page_offers_a_regional_auditor_only_batches_of_its_region(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    """报表与反馈函's batch list (for the screening summary) named every claims batch, with its file name and
    size, to 审核丙 (auditor:510300), as the batches page did; now the batches holding a 510300 claim."""
    make_accounts(session, ("审核丙", "auditor:510300"), ("审核员", "auditor"))
    for name, region in (("chengdu.csv", "510100"), ("mixed.csv", "510300")):
        rows = [claim_row(1, claim_id=f"{name}-1", treatment_region=region)]
        if name == "mixed.csv":
            rows.append(claim_row(2, claim_id=f"{name}-2", treatment_region="510100"))
        import_file(write_table(tmp_path / name, rows), kind="claims", session=session)
    site = web_app(db_url)
    regional, unscoped = Browser(site), Browser(site)
    assert regional.login("审核丙").status_code == 303 and unscoped.login("审核员").status_code == 303
    page = regional.get("/reports").text
    assert "mixed.csv" in page and "chengdu.csv" not in page
    page = unscoped.get("/reports").text
    assert "mixed.csv" in page and "chengdu.csv" in page
