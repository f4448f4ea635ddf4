"""Benchmark: build and render every report on a demo casebook; seconds per report and format.

    drgaudit demo                                   # first: the 50,000-claim demo casebook
    python bench/reports.py                         # the casebook of $DRGAUDIT_HOME (or ~/.drgaudit)
    python bench/reports.py --db /tmp/casebook.sqlite --period 2025Q3

Times, separately, building the report's data from the casebook and writing each format it has (HTML,
PDF through WeasyPrint, XLSX), in one process after one warm-up import. The packet and minutes need a
review meeting (the newest one; skipped when there is none); the feedback letter goes to the hospital
with the most flagged claims in the period.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drgaudit.casebook import meetings, queries  # noqa: E402
from drgaudit.casebook.db import make_engine  # noqa: E402
from drgaudit.casebook.models import Claim  # noqa: E402
from drgaudit.casebook.screening import ScreenHit  # noqa: E402
from drgaudit.reports.feedback import build_feedback  # noqa: E402
from drgaudit.reports.meeting import build_minutes, build_packet  # noqa: E402
from drgaudit.reports.monitoring import build_monitoring  # noqa: E402
from drgaudit.reports.periods import parse_period  # noqa: E402
from drgaudit.reports.render import write_report  # noqa: E402
from drgaudit.reports.summary import build_summary  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="casebook URL or SQLite path (default: $DRGAUDIT_HOME/casebook.sqlite)")
    parser.add_argument("--period", default="2025Q3", help="monitoring and feedback period (default 2025Q3)")
    args = parser.parse_args()
    period = parse_period(args.period)
    with Session(make_engine(args.db)) as session, tempfile.TemporaryDirectory() as out:
        claims = session.execute(select(func.count()).select_from(Claim)).scalar_one()
        batches = [b.id for b in queries.list_batches(session=session) if b.kind == "claims"]
        if not batches:
            sys.exit("no claims batch in the casebook: run `drgaudit demo` first")
        hospital = session.execute(
            select(Claim.hospital_id, func.count())
            .join(ScreenHit, ScreenHit.claim_id == Claim.claim_id)
            .where(Claim.discharge_date >= period.start, Claim.discharge_date <= period.end)
            .group_by(Claim.hospital_id)
            .order_by(func.count().desc())
        ).first()
        found = meetings.list_meetings(session=session)
        jobs = [
            ("summary", lambda: build_summary(session=session, batch_id=batches[-1])),
            ("monitoring", lambda: build_monitoring(session=session, period=period)),
        ]
        if found:
            jobs += [
                ("packet", lambda: build_packet(session=session, meeting_id=found[0].id)),
                ("minutes", lambda: build_minutes(session=session, meeting_id=found[0].id)),
            ]
        if hospital:
            jobs.append(
                ("feedback", lambda: build_feedback(session=session, hospital_id=hospital[0], period=period))
            )
        print(f"casebook: {claims:,} claims; batch {batches[-1]}; period {period.label}; "
              f"meeting {found[0].id if found else '—'}; feedback to {hospital[0] if hospital else '—'}")  # fmt: skip
        print(f"{'report':<11}{'build':>8}{'html':>8}{'pdf':>8}{'xlsx':>8}")
        for name, build in jobs:
            started = time.perf_counter()
            report = build()
            row = [time.perf_counter() - started]
            for fmt in ("html", "pdf", "xlsx"):
                if fmt not in report.formats:
                    row.append(None)
                    continue
                started = time.perf_counter()
                write_report(report, fmt, Path(out) / f"{name}.{fmt}")
                row.append(time.perf_counter() - started)
            print(f"{name:<11}" + "".join(f"{v:>7.2f}s" if v is not None else f"{'—':>8}" for v in row))


if __name__ == "__main__":
    main()
