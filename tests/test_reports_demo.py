"""Every report on a freshly generated demo casebook, as a new user would run them after `drgaudit demo`."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook import meetings, review
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.review_models import ReviewMeetingCreate
from drgaudit.cli.root import app
from drgaudit.demo.run import run_demo
from drgaudit.engine.loader import bundled_rules_dir, load_pack


def test_every_report_after_the_demo(tmp_path: Path) -> None:
    db = tmp_path / "casebook.sqlite"
    result = run_demo(tmp_path / "demo", claims=1500, db_url=str(db))
    batch = result.claims_batch_id
    with sqlite3.connect(db) as conn:
        region, hospital = conn.execute(
            "SELECT region, hospital_id FROM review_case GROUP BY region, hospital_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
        patients = {row[0] for row in conn.execute("SELECT patient_id FROM claim")}
        own = {
            row[0] for row in conn.execute("SELECT claim_id FROM claim WHERE hospital_id = ?", (hospital,))
        }
    pack = load_pack(bundled_rules_dir())
    with Session(make_engine(str(db))) as session:
        meeting = meetings.create_meeting(
            session=session, actor="王审核",
            meeting=ReviewMeetingCreate(region=region, held_on=dt.date(2026, 1, 8), title="特例单议会议", location="会议室", capacity=3),
        )  # fmt: skip
        meetings.schedule_cases(
            session=session,
            meeting_id=meeting.id,
            pack=pack,
            actor="王审核",
            fill=True,
            quota_override="集中审议",
        )
        meetings.add_attendees(
            session=session, meeting_id=meeting.id, actor="王审核", attendees=[("张明", "主持人", None)]
        )
        first = meetings.meeting_minutes(session=session, meeting_id=meeting.id).agenda[0].case
        review.decide_case(
            session=session, ref=first.id, actor="张明", pack=pack,
            request=review.DecisionRequest(kind="deduct", amount=1000.0, reason="病历不支持"),
        )  # fmt: skip
        meetings.close_meeting(session=session, meeting_id=meeting.id, actor="张明")
        meeting_id, decided_claim = meeting.id, first.claim_id
    runs = [
        ("summary", ["--batch", str(batch)], ("html", "pdf", "xlsx")),
        ("monitoring", ["--period", "2025Q3"], ("html", "xlsx")),
        ("packet", ["--meeting", str(meeting_id)], ("html", "pdf")),
        ("minutes", ["--meeting", str(meeting_id)], ("html",)),
        ("feedback", ["--hospital", hospital, "--batch", str(batch)], ("html", "xlsx")),
    ]
    for kind, args, formats in runs:
        for fmt in formats:
            out = tmp_path / "reports" / f"{kind}.{fmt}"
            done = CliRunner().invoke(app, ["report", kind, *args, "--out", str(out), "--db", str(db)])
            assert done.exit_code == 0 and done.stdout.startswith(f"wrote {out} ("), done.output
    letter = (tmp_path / "reports" / "feedback.html").read_text(encoding="utf-8")
    listed = set(re.findall(r"JS\d{10}", letter))
    cells = [
        str(v)
        for s in load_workbook(tmp_path / "reports" / "feedback.xlsx", read_only=True)
        for r in s.iter_rows(values_only=True)
        for v in r
        if v
    ]
    assert listed and listed <= own and {c for c in cells if re.fullmatch(r"JS\d{10}", c)} <= own
    assert not {p for p in patients if p in letter or any(p in c for c in cells)}
    minutes = (tmp_path / "reports" / "minutes.html").read_text(encoding="utf-8")
    assert "病历不支持" in minutes and "1,000.00" in minutes and decided_claim in minutes
