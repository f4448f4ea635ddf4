"""`drgaudit users …` and the CLI's `--user` on a shared casebook: bootstrap, admin-only management,
roles checked per command, and the audit log's account, role and channel."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from drgaudit.casebook import auditlog, review
from drgaudit.cli.root import app
from tests.review_support import bundled_pack, claim, hit, import_claims, screen

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("fast_passwords")
PASSWORD = "correct horse battery"


def run(db: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--db", db], input=stdin, env=env)
    return result.exit_code, result.output


def add(db: str, name: str, *roles: str, by: str | None = "admin") -> tuple[int, str]:
    extra = ["--user", by] if by else []
    args = ["users", "add", name, *[f"--role={r}" for r in roles], "--password-stdin", *extra]
    return run(db, *args, stdin=PASSWORD + "\n")


@pytest.fixture
def shared(db_url: str, session: Session, tmp_path: Path) -> str:
    """A casebook with three flagged claims of H001 and accounts: admin, 王审核 (auditor), 李秘书 (secretary),
    h001 (hospital H001), h002 (hospital H002)."""
    batch = import_claims(session, tmp_path, [claim(n) for n in range(1, 41)])
    screen(
        session,
        batch,
        [hit("C000001", "OUT-HIGH-001", amount=5000.0), hit("C000002", "LOS-001")],
        bundled_pack(),
    )
    assert add(db_url, "admin", "admin", by=None) == (0, "account admin created: admin\n")
    for name, role in (
        ("王审核", "auditor"),
        ("李秘书", "secretary"),
        ("h001", "hospital:H001"),
        ("h002", "hospital:H002"),
    ):
        code, out = add(db_url, name, role)
        assert code == 0, out
    return db_url


def test_bootstrap_needs_an_administrator_first(db_url: str) -> None:
    code, out = add(db_url, "w", "auditor", by=None)
    assert code == 1 and "first account of a casebook must be an administrator" in out
    assert add(db_url, "admin", "admin", by=None)[0] == 0
    code, out = add(db_url, "w", "auditor", by=None)  # no --user: the OS user, who has no account
    assert code == 1 and "no account" in out and "--user" in out


def test_only_administrators_manage_accounts(shared: str) -> None:
    code, out = add(shared, "x", "viewer", by="王审核")
    assert code == 1 and "users.manage" in out and "admin" in out
    code, out = run(shared, "users", "list", "--user", "admin")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["admin", "h001", "h002", "李秘书", "王审核"]
    assert "hospital:H001" in out
    code, out = run(shared, "users", "list", "--format", "json", "--role", "hospital", "--user", "admin")
    assert code == 0 and '"roles": [\n      "hospital:H002"' in out
    assert run(shared, "users", "disable", "h002", "--user", "admin") == (0, "account h002 disabled\n")
    assert run(shared, "users", "grant", "李秘书", "auditor:510100", "--user", "admin") == (
        0,
        "account 李秘书: granted auditor:510100\n",
    )
    code, out = run(shared, "users", "reset-password", "h001", "--generate-password", "--user", "admin")
    assert code == 0 and out.startswith("password of h001 set\npassword (shown once): ")
    assert len(out.strip().split()[-1]) == 16


def test_a_role_without_its_scope_is_told_how_to_write_it(shared: str) -> None:
    """`users grant NAME hospital` said 'must be bound to a hospital id (--hospital)', an option only
    `users add` has: the hint now names the ROLE:SCOPE form both commands take, and it works."""
    code, out = run(shared, "users", "grant", "李秘书", "hospital", "--user", "admin")
    assert code == 1 and "write hospital:H51010000001" in out, out
    code, out = run(shared, "users", "grant", "李秘书", "hospital:H51010000001", "--user", "admin")
    assert code == 0, out
    code, out = run(shared, "users", "grant", "李秘书", "integration", "--user", "admin")
    assert code == 1 and "write integration:510100" in out, out
    code, out = add(shared, "ins", "insured_region")
    assert code == 1 and "write insured_region:510700 (`users add` also takes --region)" in out, out


def test_passwords_are_never_defaulted(shared: str) -> None:
    code, out = run(shared, "users", "add", "nopw", "--role", "viewer", "--user", "admin", stdin="")
    assert code == 2 and "--password-stdin" in out


def test_free_text_users_are_refused_and_roles_checked(shared: str) -> None:
    code, out = run(shared, "queue", "assign", "1", "--to", "某人", "--user", "随便谁")
    assert code == 1 and "no account `随便谁`" in out
    code, out = run(shared, "queue", "assign", "1", "--to", "某人", "--user", "h001")
    assert code == 1 and "may not assign cases" in out and "case.assign needs one of: auditor" in out
    code, out = run(shared, "queue", "assign", "1", "--to", "某人", "--user", "h002")
    assert code == 1 and "disabled" not in out  # h002 is active here
    code, out = run(shared, "meeting", "create", "--region", "510100", "--date", "2026-12-01", "--capacity", "2",
                    "--user", "王审核")  # fmt: skip
    assert code == 1 and "meeting.create" in out
    # The hospital of another hospital's case is told the case does not exist.
    code, out = run(shared, "queue", "appeal", "1", "--reason", "x", "--user", "h002")
    assert code == 1 and "no review case 1" in out


def test_a_meeting_by_accounts_records_role_and_channel(shared: str, session: Session) -> None:
    assert run(shared, "queue", "assign", "1", "--to", "王审核", "--user", "王审核")[0] == 0
    code, out = run(shared, "meeting", "create", "--region", "510100", "--date", "2026-12-01", "--capacity", "2",
                    "--user", "李秘书")  # fmt: skip
    assert code == 0, out
    assert (
        run(shared, "meeting", "add", "1", "1", "--attendee", "张专家:主审专家", "--user", "李秘书")[0] == 0
    )
    code, out = run(shared, "queue", "decide", "1", "--kind", "deduct", "--amount", "100", "--reason", "重复收费",
                    "--user", "李秘书")  # fmt: skip
    assert code == 0 and "by 李秘书" in out
    code, out = run(shared, "queue", "show", "1")
    assert "by 李秘书 in meeting 1" in out
    assert "李秘书 (secretary, cli) decided" in out
    assert "王审核 (auditor, cli) assigned" in out
    assert run(shared, "casebook", "verify")[0] == 0
    decided = [
        e
        for e in auditlog.entries_for(session=session, entity="review_case", entity_id=1)
        if e.action == "decided"
    ]
    assert [(e.actor, e.role, e.channel) for e in decided] == [("李秘书", "secretary", "cli")]


def test_drgaudit_user_names_the_default_account(shared: str) -> None:
    code, out = run(shared, "queue", "assign", "1", "--to", "王审核", env={"DRGAUDIT_USER": "王审核"})
    assert code == 0, out


def test_a_case_is_assigned_only_to_an_active_auditor_of_its_region(shared: str, session: Session) -> None:
    """A mistyped name, a secretary, a hospital, a disabled auditor or an auditor of another region would
    leave the case with nobody to handle it: refused, the case unchanged."""
    assert add(shared, "审核乙", "auditor:510300", by="admin")[0] == 0
    assert add(shared, "审核丁", "auditor:510100", by="admin")[0] == 0
    assert add(shared, "审核戊", "auditor", by="admin")[0] == 0
    assert run(shared, "users", "disable", "审核戊", "--user", "admin")[0] == 0
    for name in ("王审合", "李秘书", "h001", "审核戊", "审核乙"):
        code, out = run(shared, "queue", "assign", "1", "--to", name, "--user", "王审核")
        assert code == 1 and f"“{name}” is not an active auditor's account of this case's region" in out, out
    session.expire_all()
    assert review.get_case(session=session, ref=1).assignee is None
    assert run(shared, "queue", "assign", "1", "--to", "审核丁", "--user", "王审核")[0] == 0


def test_importing_into_a_shared_casebook_needs_an_auditor(
    shared: str, tmp_path: Path, session: Session
) -> None:
    from drgaudit.casebook.models import ImportBatch
    from tests.review_support import write_table

    rows = write_table(tmp_path / "more.csv", [claim(n) for n in range(41, 43)])
    code, out = run(shared, "import", "claims", str(rows))  # the OS user has no account here
    assert code == 1 and "no account" in out
    code, out = run(shared, "import", "claims", str(rows), "--user", "h001")
    assert code == 1 and "import.run needs one of: auditor" in out
    code, out = run(shared, "import", "claims", str(rows), "--user", "王审核")
    assert code == 0 and "2 imported" in out, out
    session.expire_all()
    batches = session.exec(select(ImportBatch).order_by(ImportBatch.id.desc())).all()
    assert batches[0].imported_by == "王审核"
