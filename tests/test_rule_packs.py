"""Rule-pack versions in the casebook: register, promote (with a second person), active/shadow per region,
rollback by promoting the previous version, materialised folders, the audit log, and the CLI."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook import auditlog, packs
from drgaudit.casebook.packs import PackError
from drgaudit.cli.root import app
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.services.packs import PromoteRequest, materialize, promote_pack, register_pack

D = dt.date


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Materialised packs go to a private home, never ~/.drgaudit."""
    folder = tmp_path / "home"
    monkeypatch.setenv("DRGAUDIT_HOME", str(folder))
    return folder


def pack_copy(tmp_path: Path, name: str, *, los: int | None = None, approvers: int | None = None) -> Path:
    """A copy of the bundled pack, optionally with LOS-001 at `los` days or national approvers changed."""
    folder = tmp_path / name
    shutil.copytree(bundled_rules_dir(), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    if los is not None:
        path = folder / "long_stay.yaml"
        path.write_text(
            path.read_text(encoding="utf-8").replace("default: 60,", f"default: {los},", 1), "utf-8"
        )
    if approvers is not None:
        path = folder / "regions" / "national.yaml"
        text = path.read_text(encoding="utf-8").replace(
            "pack_promotion_approvers: 1", f"pack_promotion_approvers: {approvers}"
        )
        path.write_text(text, encoding="utf-8")
    return folder


def test_register_is_idempotent_and_keeps_the_files(session: Session, tmp_path: Path) -> None:
    first = register_pack(session=session, directory=None, actor="alice", note="bundled")
    again = register_pack(session=session, directory=None, actor="bob")
    assert first.created and not again.created
    assert again.version.id == first.version.id and again.version.registered_by == "alice"
    pack = load_pack(None)
    assert first.version.version == pack.version
    assert set(first.version.files) == set(pack.file_hashes)
    other = register_pack(session=session, directory=pack_copy(tmp_path, "p70", los=70), actor="carol")
    assert other.created and other.version.version != pack.version
    assert [v.version for v in packs.list_versions(session=session)] == [other.version.version, pack.version]
    log = auditlog.entries_for(session=session, entity=packs.VERSION_ENTITY, entity_id=pack.version)
    assert [(e.actor, e.action) for e in log] == [("alice", "registered")]


def test_a_broken_pack_is_refused(session: Session, tmp_path: Path) -> None:
    folder = pack_copy(tmp_path, "broken")
    (folder / "long_stay.yaml").write_text("rules: [{id: X}]\n", encoding="utf-8")
    with pytest.raises(Exception, match="long_stay.yaml"):
        register_pack(session=session, directory=folder, actor="alice")
    assert packs.list_versions(session=session) == []


def test_version_refs(session: Session) -> None:
    row = register_pack(session=session, directory=None, actor="alice").version
    assert packs.get_version(session=session, ref=row.version[:6]).id == row.id
    assert packs.get_version(session=session, ref=f"#{row.id}").id == row.id
    with pytest.raises(PackError, match="too short"):
        packs.get_version(session=session, ref="ab")
    with pytest.raises(PackError, match="no rule-pack version"):
        packs.get_version(session=session, ref="ffffffffffff")


def test_active_and_shadow_by_region_and_date(session: Session, tmp_path: Path) -> None:
    v60 = register_pack(session=session, directory=None, actor="alice").version
    v70 = register_pack(session=session, directory=pack_copy(tmp_path, "p70", los=70), actor="alice").version
    assert packs.active_version(session=session, region="510700", on_date=D(2026, 1, 1)) is None

    def promote(version, region, day, stage="active", actor="alice"):
        return promote_pack(
            session=session,
            request=PromoteRequest(version.version if version else None, region, day, stage),
            actor=actor,
        )

    promote(v60, "national", D(2025, 1, 1))
    promote(v70, "510700", D(2026, 1, 1))
    promote(v70, "national", D(2025, 6, 1), stage="shadow")

    def active(region, day):
        found = packs.active_version(session=session, region=region, on_date=day)
        return found.version if found else None

    def shadow(region, day):
        found = packs.shadow_version(session=session, region=region, on_date=day)
        return found.version if found else None

    assert active("510700", D(2024, 12, 31)) is None
    assert active("510700", D(2025, 12, 31)) == v60.version  # the national promotion
    assert active("510700", D(2026, 1, 1)) == v70.version  # its own from that day
    assert active("511300", D(2026, 1, 1)) == v60.version
    assert shadow("511300", D(2025, 5, 31)) is None
    assert shadow("511300", D(2025, 6, 1)) == v70.version
    assert shadow("510700", D(2026, 1, 1)) is None  # the shadow version is active there: nothing to shadow
    # Rollback: promote the previous version again, later.
    promote(v60, "510700", D(2026, 3, 1))
    assert active("510700", D(2026, 2, 28)) == v70.version
    assert active("510700", D(2026, 3, 1)) == v60.version
    promote(None, "national", D(2026, 4, 1), stage="shadow")
    assert shadow("511300", D(2026, 4, 1)) is None
    people = packs.version_people(session=session, version=v70.version)
    assert people is not None and people.everyone == {"alice"}


def test_second_person_where_the_region_asks_for_it(session: Session, tmp_path: Path) -> None:
    # The bundled 510100.yaml asks for two people; national for one.
    version = register_pack(session=session, directory=None, actor="alice").version
    request = PromoteRequest(version.version, "510100", D(2026, 1, 1))
    outcome = promote_pack(session=session, request=request, actor="alice")
    assert outcome.state == "pending" and outcome.promotion.approvals_needed == 2
    assert packs.active_version(session=session, region="510100", on_date=D(2026, 1, 1)) is None
    with pytest.raises(PackError, match="second person"):
        promote_pack(session=session, request=request, actor="alice")
    approved = promote_pack(session=session, request=request, actor="bob")
    assert approved.state == "approved" and approved.promotion.id == outcome.promotion.id
    assert packs.active_version(session=session, region="510100", on_date=D(2026, 1, 1)).id == version.id
    people = packs.version_people(session=session, version=version.version)
    assert people.requested_by == {"alice"} and people.approved_by == {"bob"}
    log = auditlog.entries_for(session=session, entity=packs.PROMOTION_ENTITY, entity_id=outcome.promotion.id)
    assert [(e.actor, e.action) for e in log] == [("alice", "requested"), ("bob", "approved")]
    assert auditlog.verify_log(session=session).ok
    # One person suffices for 510700 ...
    assert (
        promote_pack(
            session=session, request=PromoteRequest(version.version, "510700", D(2026, 1, 1)), actor="alice"
        ).state
        == "in_force"
    )
    # ... unless the version being promoted (or the active one) asks for two everywhere.
    strict = register_pack(
        session=session, directory=pack_copy(tmp_path, "strict", approvers=2), actor="alice"
    )
    later = PromoteRequest(strict.version.version, "510700", D(2026, 2, 1))
    assert promote_pack(session=session, request=later, actor="alice").state == "pending"
    assert promote_pack(session=session, request=later, actor="carol").state == "approved"
    back = PromoteRequest(version.version, "510700", D(2026, 3, 1))  # rollback: the active one asks for two
    assert promote_pack(session=session, request=back, actor="alice").state == "pending"


def test_three_people_where_the_region_asks_for_three(session: Session, tmp_path: Path) -> None:
    """`pack_promotion_approvers: 3`: the requester and two more distinct people; a second approval
    from anyone who gave one already is refused, and the promotion waits until the third."""
    version = register_pack(
        session=session, directory=pack_copy(tmp_path, "three", approvers=3), actor="alice"
    )
    request = PromoteRequest(version.version.version, "510700", D(2026, 1, 1))
    first = promote_pack(session=session, request=request, actor="alice")
    assert first.state == "pending" and first.promotion.approvals == ["alice"]
    second = promote_pack(session=session, request=request, actor="bob")
    assert second.state == "endorsed" and second.promotion.status == "pending"
    assert second.promotion.approvals == ["alice", "bob"] and second.promotion.approved_by is None
    assert packs.active_version(session=session, region="510700", on_date=D(2026, 1, 1)) is None
    for again in ("alice", "bob"):
        with pytest.raises(packs.SecondPersonNeeded, match="1 more"):
            promote_pack(session=session, request=request, actor=again)
    third = promote_pack(session=session, request=request, actor="carol")
    assert third.state == "approved" and third.promotion.approvals == ["alice", "bob", "carol"]
    assert (
        packs.active_version(session=session, region="510700", on_date=D(2026, 1, 1)).id == version.version.id
    )
    log = auditlog.entries_for(session=session, entity=packs.PROMOTION_ENTITY, entity_id=first.promotion.id)
    assert [(e.actor, e.action) for e in log] == [
        ("alice", "requested"),
        ("bob", "endorsed"),
        ("carol", "approved"),
    ]
    people = packs.version_people(session=session, version=version.version.version)
    assert people.approved_by == {"bob", "carol"}
    assert auditlog.verify_log(session=session).ok


def test_bad_requests(session: Session) -> None:
    version = register_pack(session=session, directory=None, actor="alice").version
    with pytest.raises(PackError, match="6-digit"):
        promote_pack(
            session=session, request=PromoteRequest(version.version, "5101", D(2026, 1, 1)), actor="a"
        )
    with pytest.raises(PackError, match="needs a version"):
        packs.promote(
            session=session,
            version=None,
            region="510700",
            stage="active",
            effective_from=D(2026, 1, 1),
            actor="a",
        )
    with pytest.raises(PackError, match="unknown stage"):
        packs.promote(
            session=session,
            version=version,
            region="510700",
            stage="live",
            effective_from=D(2026, 1, 1),
            actor="a",
        )


def test_materialise_reproduces_and_repairs(session: Session, home: Path) -> None:
    version = register_pack(session=session, directory=None, actor="alice").version
    folder = materialize(version)
    assert folder.parent == home / "packs"
    assert load_pack(folder).version == version.version
    (folder / "long_stay.yaml").write_text("rules: []\n", encoding="utf-8")  # tampered copy
    again = materialize(version)
    assert again == folder and load_pack(again).version == version.version


def test_materialise_refuses_paths_outside_the_folder(session: Session, tmp_path: Path) -> None:
    version = register_pack(session=session, directory=None, actor="alice").version
    session.expunge(version)
    version.files = {**version.files, "../escape.yaml": "x: 1\n"}
    with pytest.raises(PackError, match="leaves its folder"):
        materialize(version, root=tmp_path / "packs")
    assert not (tmp_path / "packs" / "escape.yaml").exists()


def test_cli_register_promote_versions(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "--db", db_url])
        assert result.exit_code == 0, result.output
        return result.output

    out = run("rules", "register", "--note", "bundled", "--user", "alice")
    assert out.startswith("registered: version ")
    version = out.split()[2]
    pending = run(
        "rules", "promote", version[:8], "--region", "510100", "--from", "2026-01-01", "--user", "alice"
    )
    assert "needs a second person" in pending
    refused = runner.invoke(
        app,
        [
            "rules",
            "promote",
            version[:8],
            "--region",
            "510100",
            "--from",
            "2026-01-01",
            "--user",
            "alice",
            "--db",
            db_url,
        ],
    )
    assert refused.exit_code == 1 and "second person" in refused.output
    assert "approved by bob" in run(
        "rules", "promote", version[:8], "--region", "510100", "--from", "2026-01-01", "--user", "bob"
    )
    listing = run("rules", "versions", "--on", "2026-01-02")
    assert f"{version}" in listing and "active 510100" in listing and "approved by bob" in listing
    assert "no version (shadowing stops)" in run(
        "rules", "unshadow", "--region", "national", "--from", "2026-01-01"
    )
    bad = runner.invoke(
        app, ["rules", "promote", "zzzz", "--region", "510100", "--from", "2026-01-01", "--db", db_url]
    )
    assert bad.exit_code == 1 and "no rule-pack version zzzz" in bad.output
