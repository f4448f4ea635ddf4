"""`drgaudit queue|meeting|assist|casebook` as a user runs them: exact output and exit codes."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook.review_models import ReviewCase
from drgaudit.cli.root import app
from tests.review_support import bundled_pack, claim, hit, import_claims, screen

runner = CliRunner()


@pytest.fixture
def queue_db(db_url: str, session: Session, tmp_path: Path) -> str:
    """40 claims of H001 (2025-03, quota 2), three of them flagged for special review, one for deduction only."""
    batch = import_claims(session, tmp_path, [claim(n) for n in range(1, 41)])
    hits = [
        hit("C000001", "OUT-HIGH-001", severity="medium", amount=5000.0),
        hit("C000002", "LOS-001", severity="high", amount=2000.0),
        hit("C000003", "SPLIT-001", severity="high", amount=300.0),
        hit("C000004", "COST-001", action="deduct", amount=700.0),
    ]
    screen(session, batch, hits, bundled_pack())
    return db_url


def run(db: str, *args: str, user: str | None = "张三") -> tuple[int, str]:
    extra = ["--user", user] if user else []
    result = runner.invoke(app, [*args, *extra, "--db", db])
    return result.exit_code, result.output


def lines(text_: str) -> list[str]:
    return text_.rstrip("\n").split("\n")


def test_queue_list_by_priority(queue_db: str) -> None:
    due = date.today() + timedelta(days=int(bundled_pack().region("510100").settings["review_due_days"]))
    code, out = run(queue_db, "queue", "list", user=None)
    assert code == 0, out
    assert lines(out) == [
        "case  claim    hospital  region  period   status  severity   at risk  priority  assignee  due",
        f"   1  C000001  H001      510100  2025-03  new     medium    5,000.00  7,500.00  -         {due}",
        f"   2  C000002  H001      510100  2025-03  new     high      2,000.00  4,000.00  -         {due}",
        f"   3  C000003  H001      510100  2025-03  new     high        300.00    600.00  -         {due}",
        "3 cases, 7,300.00 yuan at risk",
    ]
    code, out = run(queue_db, "queue", "list", "--limit", "1", user=None)
    assert lines(out)[-1] == "showing 1 of 3 cases, 7,300.00 yuan at risk"
    code, out = run(queue_db, "queue", "list", "--status", "closed", user=None)
    # None of a filter's: the filter is named, not screening given as the remedy (there are 3 open cases).
    assert (code, out) == (0, "no review cases match --status closed\n")
    code, out = run(queue_db, "queue", "list", "--hospital", "H002", "--period", "2025-04", user=None)
    assert (code, out) == (0, "no open review cases match --hospital H002, --period 2025-04\n")
    code, out = run(queue_db, "queue", "list", "--status", "done", user=None)
    assert code == 2 and "unknown status done" in out


def test_meeting_from_creation_to_minutes_and_rollup(queue_db: str) -> None:
    code, out = run(
        queue_db, "queue", "assign", "2", "3", "--to", "王医生", "--due", "2026-12-20", user="科长"
    )
    assert (code, lines(out)) == (0, [
        "case 2 (C000002) triaged, assigned to 王医生, due 2026-12-20",
        "case 3 (C000003) triaged, assigned to 王医生, due 2026-12-20",
    ])  # fmt: skip
    code, out = run(
        queue_db,
        "meeting",
        "create",
        "--region",
        "510100",
        "--date",
        "2026-12-01",
        "--capacity",
        "3",
        "--location",
        "三楼会议室",
    )
    assert (code, lines(out)) == (
        0,
        [
            "meeting 1 created: 特例单议会议 510100 2026-12-01, capacity 3",
            "fill it with `drgaudit meeting add 1 --fill`",
        ],
    )
    code, out = run(
        queue_db,
        "meeting",
        "add",
        "1",
        "--fill",
        "--attendee",
        "张三:主审专家:省人民医院",
        "--attendee",
        "李四:秘书",
    )
    assert (code, lines(out)) == (0, [
        "scheduled case 1 (C000001, H001, priority 7,500.00): quota H001 2025 DRG: 0 of 2 cases scheduled for review (5.0% of 40 DRG cases discharged in 2025 so far)",
        "scheduled case 2 (C000002, H001, priority 4,000.00): quota H001 2025 DRG: 1 of 2 cases scheduled for review (5.0% of 40 DRG cases discharged in 2025 so far)",
        "left out, over quota: case 3 (C000003): quota H001 2025 DRG: 2 of 2 cases scheduled for review (5.0% of 40 DRG cases discharged in 2025 so far)",
        "meeting 1: 2 of 3 places taken",
        "attendee 张三 (主审专家, 省人民医院)",
        "attendee 李四 (秘书)",
    ])  # fmt: skip
    code, out = run(queue_db, "meeting", "add", "1", "3")
    assert code == 1
    assert out == (
        "error: case 3: quota H001 2025 DRG: 2 of 2 cases scheduled for review (5.0% of 40 DRG cases discharged in 2025 so far); "
        "scheduling it would make 3, over the quota — give --override-quota REASON to go over it\n"
    )
    code, out = run(queue_db, "meeting", "add", "1", "3", "--override-quota", "疑似分解住院，须上会")
    assert lines(out)[0].endswith(
        "(5.0% of 40 DRG cases discharged in 2025 so far); over quota, override: 疑似分解住院，须上会"
    )
    code, out = run(
        queue_db,
        "queue",
        "decide",
        "1",
        "--kind",
        "special",
        "--item",
        "体外膜肺氧合=1800",
        "--item",
        "人工肝=200.5",
        "--reason",
        "ECMO 抢救",
    )
    assert (code, lines(out)) == (0, [
        "case 1 (C000001) decided in meeting 1, round 1: special payment approved 2,000.50 yuan, by 张三",
        "quota H001 2025 DRG: 0 of 2 special payments approved (5.0% of 40 DRG cases discharged in 2025 so far)",
    ])  # fmt: skip
    code, out = run(
        queue_db, "queue", "decide", "2", "--kind", "deduct", "--amount", "1200", "--reason", "重复收费"
    )
    assert (code, out) == (
        0,
        "case 2 (C000002) decided in meeting 1, round 1: deduction 1,200.00 yuan, by 张三\n",
    )
    code, out = run(queue_db, "queue", "decide", "2", "--kind", "standard", "--reason", "x", user="李四")
    assert (code, out) == (3, (
        "conflict: case 2 has already been decided by 张三 (round 1: deduct 1,200.00); nothing was saved — "
        "a decision is changed only after an appeal (`drgaudit queue appeal`)\n"
    ))  # fmt: skip
    code, out = run(
        queue_db, "queue", "decide", "3", "--kind", "merge", "--merge-with", "C000004", "--reason", "x"
    )
    assert (code, out) == (
        1,
        "error: claim C000004 is of patient P00004, not P00003; only one patient's stays merge\n",
    )
    code, out = run(queue_db, "queue", "decide", "3", "--kind", "special", "--item", "ECMO", "--reason", "x")
    assert code == 2 and "'ECMO' is not NAME=AMOUNT" in out
    code, out = run(queue_db, "meeting", "show", "1", user=None)
    assert code == 0
    assert lines(out)[1:] == [
        "date 2026-12-01  region 510100  location 三楼会议室  capacity 3  open  version 1",
        "created by 张三",
        "attendees:",
        "  张三 (主审专家, 省人民医院)",
        "  李四 (秘书)",
        "agenda:",
        "   1. case 1 C000001 H001 at risk 5,000.00 [quota 0 of 2] decided",
        "      special payment approved 2,000.50 by 张三: ECMO 抢救",
        "   2. case 2 C000002 H001 at risk 2,000.00 [quota 1 of 2] decided",
        "      deduction 1,200.00 by 张三: 重复收费",
        "   3. case 3 C000003 H001 at risk 300.00 [quota 2 of 2, override: 疑似分解住院，须上会] pending",
        "decided: deduct 1,200.00, special 2,000.50",
    ]
    code, out = run(queue_db, "meeting", "close", "1", "--note", "实到2人", user="李四")
    assert (code, out) == (0, "meeting 1 closed: 2 case(s) closed, 1 deferred back to the queue\n")
    code, out = run(queue_db, "meeting", "show", user=None)
    assert (code, lines(out)) == (0, [
        "meeting  date        region  status  cases  capacity  title",
        "      1  2026-12-01  510100  closed      3         3  特例单议会议 510100 2026-12-01",
    ])  # fmt: skip
    code, out = run(queue_db, "queue", "rollup", user=None)
    assert (code, lines(out)) == (0, [
        "hospital  period   cases  open  decided  standard  special  special yuan  deducted  deducted yuan  referred  held yuan",
        "H001      2025-03      3     1        2         0        1      2,000.50         1       1,200.00         0       0.00",
        "total: 3 cases, 1 open, 2 decided; special 2,000.50, deducted 1,200.00, held 0.00 yuan",
    ])  # fmt: skip
    code, out = run(queue_db, "queue", "rollup", "--period", "2025Q1", "--format", "csv", user=None)
    assert (code, lines(out)) == (0, [
        "hospital_id,period,cases,open,decided,standard,special,special_amount,deducted,deducted_amount,referred,referred_amount",
        "H001,2025-03,3,1,2,0,1,2000.5,1,1200.0,0,0.0",
    ])  # fmt: skip
    code, out = run(queue_db, "queue", "rollup", "--period", "2025-04", user=None)
    assert (code, out) == (0, "no review cases\n")
    code, out = run(queue_db, "queue", "appeal", "C000002", "--reason", "补充了病历", user="医院医保办")
    assert (code, out) == (
        0,
        "case 2 (C000002) appealed by 医院医保办; schedule it again with `drgaudit meeting add`\n",
    )
    code, out = run(queue_db, "queue", "show", "2", user=None)
    shown = lines(out)
    assert shown[:7] == [
        "case 2  claim C000002  appealed  version 6",
        "hospital H001  treatment region 510100  insured region 510700",
        "DRG FM19  discharged 2025-03-10 (period 2025-03)  total cost 20,000.00",
        "at risk 2,000.00  severity high  priority 4,000.00",
        "assignee 王医生  due 2026-12-20",
        "hits:",
        "  LOS-001       high     special_review     2,000.00  C000002 命中 LOS-001",
    ]
    assert shown[7:10] == [
        "decisions:",
        "  round 1: deduction 1,200.00 by 张三 in meeting 1: 重复收费",
        "appeal by 医院医保办 against round 1: 补充了病历",
    ]
    assert [line.split(" ", 5)[-1] for line in shown[11:]] == [
        "screener created",
        "科长 (owner, cli) assigned",
        "张三 (owner, cli) scheduled",
        "张三 (owner, cli) decided",
        "李四 (owner, cli) closed",
        "医院医保办 (owner, cli) appealed",
    ]
    code, out = run(queue_db, "casebook", "verify", user=None)
    assert code == 0 and out.startswith("audit log intact: 17 entries, head ")


def test_expect_version_and_unknown_case(queue_db: str) -> None:
    code, out = run(queue_db, "queue", "assign", "1", "--to", "王医生", "--expect-version", "7")
    assert (code, out) == (3, (
        "conflict: case 1 changed since you read it (you read version 7, it is now version 1, new); "
        "nothing was saved — look again with `drgaudit queue show 1`\n"
    ))  # fmt: skip
    code, out = run(queue_db, "queue", "show", "C404", user=None)
    assert (code, out) == (
        1,
        "error: no review case C404 (give a case number or a claim id; see `drgaudit queue list`)\n",
    )
    code, out = run(queue_db, "queue", "decide", "1", "--kind", "standard", "--reason", "x")
    assert (code, out) == (
        1,
        "error: case 1 is new; only a case that is scheduled can be decided (schedule it with `drgaudit meeting add`)\n",
    )


def test_assist_commands(queue_db: str) -> None:
    code, out = run(
        queue_db,
        "assist",
        "request",
        "C000001",
        "--question",
        "请核实是否挂床",
        "--due",
        "2099-01-31",
        user="绵阳经办",
    )
    assert (code, out) == (0, "request 1 opened: 510700 asks 510100 about C000001 (H001)\n")
    code, out = run(queue_db, "assist", "list", "--region", "510100", "--side", "treatment", user=None)
    assert (code, lines(out)) == (0, [
        "request  claim    regions          hospital  status  due         question / answer",
        "      1  C000001  510700 → 510100  H001      open    2099-01-31  asked by 绵阳经办: 请核实是否挂床",
    ])  # fmt: skip
    code, out = run(queue_db, "assist", "list", "--region", "510100", "--side", "insured", user=None)
    assert (code, out) == (0, "no investigation requests open\n")
    code, out = run(
        queue_db, "assist", "respond", "1", "--result", "confirmed", "--answer", "多日不在院", user="成都稽核"
    )
    assert (code, out) == (0, "request 1 closed: confirmed, answered by 成都稽核\n")
    code, out = run(
        queue_db, "assist", "respond", "1", "--result", "confirmed", "--answer", "again", user="成都稽核"
    )
    assert (code, out) == (1, "error: request 1 is already closed (confirmed, by 成都稽核)\n")
    code, out = run(queue_db, "assist", "list", "--all", user=None)
    assert (code, lines(out)) == (0, [
        "request  claim    regions          hospital  status  due         question / answer",
        "      1  C000001  510700 → 510100  H001      closed  2099-01-31  confirmed (成都稽核): 多日不在院",
    ])  # fmt: skip
    code, out = run(queue_db, "assist", "list", "--all", "--format", "json", user=None)
    listed = json.loads(out)
    assert [(r["id"], r["claim_id"], r["insured_region"], r["result"], r["answer"]) for r in listed] == [
        (1, "C000001", "510700", "confirmed", "多日不在院")
    ]
    assert "summary" not in listed[0] and listed[0]["due_date"] == "2099-01-31"
    code, out = run(queue_db, "assist", "list", "--side", "insured", user=None)
    assert code == 2 and "--side goes with --region" in out


def test_verify_names_an_edited_entry(queue_db: str, session: Session) -> None:
    session.execute(text("UPDATE audit_log SET actor = 'someone' WHERE seq = 2"))
    session.commit()
    code, out = run(queue_db, "casebook", "verify", user=None)
    assert code == 1
    assert lines(out)[0].startswith(
        "audit log BROKEN at entry 2: entry 2 (review_case 2 created by someone at "
    )
    assert lines(out)[0].endswith("): content edited, its hash does not match")
    assert lines(out)[1] == "checked 2 entries before stopping"
    assert session.get(ReviewCase, 2) is not None
