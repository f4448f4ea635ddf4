"""Benchmark: render the review service's queue page and case page on a casebook of 50,000 claims, every
one of them a review case, and print the median and 95th percentile of each page's time.

    python bench/web.py                      # demo province of 50,000 claims in a fresh SQLite file
    python bench/web.py --claims 20000 --requests 50
    python bench/web.py --db postgresql+psycopg://user@127.0.0.1:5432/bench   # an empty database

The demo province is generated, imported and screened (`drgaudit.demo.run.run_demo`, not timed); then
every claim that did not become a case through its hits is made one (status new, a priority spread like
the real ones, one hit), so the queue holds one case per claim. Pages are requested through the whole
application (FastAPI's in-process client: routing, the session cookie and CSRF checks, the access
policy, the queries, Jinja2) as a signed-in auditor: the queue's first page by priority, pages deep in
the queue, filtered by hospital and by problem family, and the case pages of random cases. Each page
is requested once before timing (the reference data is loaded then, as in a running server).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlmodel import Session

from drgaudit.casebook.accounts import GrantRow
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.models import Claim
from drgaudit.casebook.review_models import ReviewCase, ReviewCaseHit
from drgaudit.demo.run import run_demo
from drgaudit.services import accounts as account_service
from drgaudit.services.access import Principal

PASSWORD = "bench password 1"


def fill_queue(url: str, seed: int) -> int:
    """Make every claim without a case into one (status new, one hit); returns the number of cases."""
    rnd = random.Random(seed)
    engine = make_engine(url)
    stamp = datetime.now(UTC)
    with Session(engine) as session:
        batch = session.execute(select(ReviewCase.batch_id)).scalars().first() or 1
        have = set(session.execute(select(ReviewCase.claim_id)).scalars())
        claims = session.execute(
            select(Claim.claim_id, Claim.patient_id, Claim.hospital_id, Claim.treatment_region, Claim.insured_region,
                   Claim.payment_scheme, Claim.group_code, Claim.discharge_date, Claim.total_cost)
        ).all()  # fmt: skip
        rows = []
        for c in claims:
            if c.claim_id in have:
                continue
            amount = round(rnd.lognormvariate(8, 1.2), 2)
            rows.append(
                {"claim_id": c.claim_id, "batch_id": batch, "patient_id": c.patient_id, "hospital_id": c.hospital_id,
                 "region": c.treatment_region, "insured_region": c.insured_region, "payment_scheme": c.payment_scheme,
                 "group_code": c.group_code, "discharge_date": c.discharge_date, "period": f"{c.discharge_date:%Y-%m}",
                 "total_cost": c.total_cost, "status": "new", "severity": "medium", "amount_at_risk": amount,
                 "priority": round(amount * 1.5, 2), "rules": "BENCH-001", "due_date": date.today() + timedelta(days=30),
                 "created_at": stamp, "updated_at": stamp, "version": 1}
            )  # fmt: skip
        for start in range(0, len(rows), 5000):
            session.execute(insert(ReviewCase), rows[start : start + 5000])
        ids = session.execute(
            select(ReviewCase.id, ReviewCase.claim_id).where(ReviewCase.rules == "BENCH-001")
        ).all()
        hits = [
            {"case_id": case_id, "rule_id": "BENCH-001", "batch_id": batch, "family": "outlier_review",
             "severity": "medium", "action": "special_review", "amount_at_risk": 100.0, "message": f"{claim_id} 基准测试",
             "evidence_hash": "0" * 32, "present": True}
            for case_id, claim_id in ids
        ]  # fmt: skip
        for start in range(0, len(hits), 5000):
            session.execute(insert(ReviewCaseHit), hits[start : start + 5000])
        session.commit()
        total = len(session.execute(select(ReviewCase.id)).all())
    engine.dispose()
    return total


def timed(client, path: str, runs: int) -> list[float]:
    response = client.get(path)  # warm: reference data, templates, the query plan
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code}\n{response.text[:500]}")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--claims", type=int, default=50_000, help="claims of the demo province (default 50,000)"
    )
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (default 30)")
    parser.add_argument("--db", help="an empty database URL (default: a fresh SQLite file)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from drgaudit.web.app import create_app
    from drgaudit.web.settings import WebSettings

    with tempfile.TemporaryDirectory(prefix="drgaudit-bench-web-") as scratch:
        url = args.db or f"sqlite:///{Path(scratch) / 'casebook.sqlite'}"
        started = time.perf_counter()
        run_demo(Path(scratch) / "demo", claims=args.claims, db_url=url, workers=2)
        cases = fill_queue(url, args.seed)
        print(
            f"casebook: {args.claims:,} claims, {cases:,} review cases ({time.perf_counter() - started:.0f}s to build)"
        )
        engine = make_engine(url)
        with Session(engine) as session:
            account_service.add_user(
                session=session, principal=Principal.owner("bench"), username="admin",
                grants=[GrantRow("admin", None)], password=PASSWORD,
            )  # fmt: skip
            boss = account_service.cli_principal(session=session, user="admin")
            account_service.add_user(
                session=session,
                principal=boss,
                username="auditor",
                grants=[GrantRow("auditor", None)],
                password=PASSWORD,
            )
            hospital = session.execute(select(ReviewCase.hospital_id)).scalars().first()
            sample = random.Random(args.seed).sample(
                list(session.execute(select(ReviewCase.id)).scalars()), 20
            )
        engine.dispose()
        app = create_app(WebSettings(database_url=url, secret_key="bench-" + "k" * 40, key_file=None))
        client = TestClient(app)
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        client.post("/login", data={"username": "auditor", "password": PASSWORD, "csrf_token": token})
        pages = {
            "queue, first page by priority": "/queue",
            "queue, page 400": "/queue?page=400",
            "queue, one hospital, by due date": f"/queue?hospital={hospital}&sort=due&order=asc",
            "queue, one problem family": "/queue?family=split_hospitalization",
        }
        print(
            f"{'page':<36} {'median ms':>10} {'p95 ms':>8}   ({args.requests} requests each, after one warm-up)"
        )
        worst = 0.0
        for label, path in pages.items():
            times = timed(client, path, args.requests)
            median = statistics.median(times)
            worst = max(worst, median)
            print(f"{label:<36} {median:>10.1f} {statistics.quantiles(times, n=20)[-1]:>8.1f}")
        times = []
        for case_id in sample:
            times += timed(client, f"/cases/{case_id}", max(1, args.requests // len(sample)))
        median = statistics.median(times)
        worst = max(worst, median)
        print(
            f"{'case page (20 random cases)':<36} {median:>10.1f} {statistics.quantiles(times, n=20)[-1]:>8.1f}"
        )
        client.close()
        print(f"slowest median: {worst:.1f} ms ({'under' if worst < 200 else 'OVER'} the 200 ms target)")
        if worst >= 200:
            sys.exit(1)


if __name__ == "__main__":
    main()
