"""Shared fixtures: a fresh casebook database for every test, and valid synthetic claim rows.

Database fixtures (use the one you need; each builds on the one before):

- ``db_backend``: ``"sqlite"``, and also ``"postgresql"`` when the environment variable
  ``DRGAUDIT_TEST_POSTGRES_URL`` is set. Every test that uses any database fixture runs once per
  backend (test ids end in ``[sqlite]`` / ``[postgresql]``).
- ``db_url``: the URL of a fresh, empty database of that backend, private to the test. SQLite: a named
  in-memory database (``sqlite:///file:…?mode=memory&cache=shared&uri=true``), shared by every engine
  the test opens on the URL (for instance the CLI's, through ``--db``) and gone after the test.
  PostgreSQL: a database ``drgaudit_test_<random>`` created on the server of
  ``DRGAUDIT_TEST_POSTGRES_URL`` (whose role needs CREATEDB) and dropped after the test.
- ``engine``: ``drgaudit.casebook.db.make_engine(db_url)``: the schema migrated to the newest revision.
- ``session``: a ``sqlmodel.Session`` on ``engine``, closed after the test.

Data fixtures:

- ``make_claim(n, **overrides)``: claim row number ``n`` as a dict of CSV strings, valid under the
  DATA-CONTRACT; overrides replace fields (``None`` removes one).
- ``write_rows(path, rows, *, encoding="utf-8", columns=None)``: writes rows as CSV, JSONL or XLSX
  after the path's extension and returns the path.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from drgaudit.casebook.db import make_engine
from drgaudit.contract import CLAIM_FIELDS

POSTGRES_ENV = "DRGAUDIT_TEST_POSTGRES_URL"

ClaimMaker = Callable[..., dict[str, str]]
RowWriter = Callable[..., Path]

# The audit log is sealed with a key kept outside the casebook (casebook.auditkey): tests use a fixed key
# from the environment (inherited by the processes they start), never a key file in the user's home.
os.environ.setdefault("DRGAUDIT_AUDIT_KEY", "drgaudit-tests-audit-key-0123456789abcdef")


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest.fixture(params=_backends())
def db_backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this run of the test: sqlite, or postgresql when configured."""
    return request.param


def _drop_database(admin: Engine, name: str, attempts: int = 5) -> None:
    """Drop a test database, closing what is still connected to it.

    WITH (FORCE) refuses (InsufficientPrivilege) while a backend of a child process the test started is
    still starting up: its role is not set yet, so PostgreSQL cannot tell it is ours. Such a backend is
    gone or fully connected a moment later, so the drop is tried again.
    """
    for attempt in range(attempts):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


@pytest.fixture
def db_url(db_backend: str) -> Iterator[str]:
    """URL of a fresh, empty database private to this test (see the module docstring)."""
    if db_backend == "sqlite":
        name = f"drgaudit-test-{uuid.uuid4().hex}"
        # The named in-memory database lives while at least one connection to it is open.
        keeper = sqlite3.connect(f"file:{name}?mode=memory&cache=shared", uri=True)
        try:
            yield f"sqlite:///file:{name}?mode=memory&cache=shared&uri=true"
        finally:
            keeper.close()
        return
    server = make_url(os.environ[POSTGRES_ENV])
    if server.drivername in ("postgresql", "postgres"):
        server = server.set(drivername="postgresql+psycopg")
    name = f"drgaudit_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield server.set(database=name).render_as_string(hide_password=False)
        _drop_database(admin, name)
    finally:
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the test's database, migrated to the newest revision."""
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test's database."""
    with Session(engine) as s:
        yield s


_DX = ("I21.000", "I10.x05", "E11.900", "K22.301", "J18.900", "C34.900x001", "N18.900x012", "I63.900")
_PX = ("36.0600", "96.0800x005", "60.5x02", "88.5500", "45.2300")
_REGIONS = ("510100", "510300", "510700", "511000")


def claim_row(n: int, **overrides: Any) -> dict[str, str]:
    """Claim number `n`: a valid claim as CSV strings; `overrides` replace fields, None removes one."""
    admit = date(2025, 1, 1) + timedelta(days=n % 300)
    stay = 1 + n % 12
    total = 3000 + (n * 37) % 20000
    row = {
        "claim_id": f"C{n:06d}",
        "patient_id": f"P{n // 3:05d}",
        "gender": str(1 + n % 2),
        "age": str(20 + n % 70),
        "age_days": "",
        "newborn_weight_g": "",
        "insured_region": _REGIONS[n % 4],
        "treatment_region": _REGIONS[(n // 4) % 4],
        "insurance_type": "employee" if n % 3 else "resident",
        "hospital_id": f"H{n % 17:03d}",
        "dept_code": f"D{n % 9}",
        "admit_date": admit.isoformat(),
        "discharge_date": (admit + timedelta(days=stay)).isoformat(),
        "admission_route": "2",
        "discharge_mode": "1",
        "readmit_plan_31d": "1",
        "principal_dx": _DX[n % 8],
        "secondary_dx": "|".join(_DX[(n + k) % 8] for k in range(1, 1 + n % 3)),
        "procedures": "|".join(_PX[(n + k) % 5] for k in range(n % 2)),
        "icu_hours": "",
        "ventilator_hours": "",
        "payment_scheme": "FFS" if n % 10 == 9 else "DRG",
        "group_code": "" if n % 10 == 9 else "FM19",
        "total_cost": f"{total:.2f}",
        "fund_paid": f"{total * 0.7:.2f}",
        "self_pay": f"{total * 0.2:.2f}",
        "self_expense": f"{total * 0.1:.2f}",
        "outside_purchase": "",
        "fee_drug": f"{total * 0.4:.2f}",
        "fee_material": f"{total * 0.2:.2f}",
        "fee_lab": "",
        "fee_exam": "",
        "fee_treatment": "",
        "fee_surgery": "",
        "fee_nursing": "",
        "fee_bed": f"{stay * 50:.2f}",
        "fee_other": "",
    }
    for key, value in overrides.items():
        if value is None:
            row.pop(key, None)
        else:
            row[key] = value
    return row


def write_table(
    path: Path, rows: list[dict[str, Any]], *, encoding: str = "utf-8", columns: list[str] | None = None
) -> Path:
    """Write `rows` to `path` as CSV, JSONL or XLSX (by extension); CSV/JSONL in `encoding`."""
    header = (
        columns or list(dict.fromkeys(key for row in rows for key in row)) or [f.name for f in CLAIM_FIELDS]
    )
    if path.suffix == ".jsonl":
        with open(path, "w", encoding=encoding, newline="\n") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif path.suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.append(header)
        for row in rows:
            sheet.append([row.get(name) for name in header])
        book.save(path)
    else:
        with open(path, "w", encoding=encoding, newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return path


@pytest.fixture
def make_claim() -> ClaimMaker:
    """`claim_row`: a valid claim row as CSV strings (see the module docstring)."""
    return claim_row


@pytest.fixture
def write_rows() -> RowWriter:
    """`write_table`: write rows as CSV, JSONL or XLSX (see the module docstring)."""
    return write_table


@pytest.fixture
def fast_passwords() -> Iterator[None]:
    """argon2id with small parameters for the test (real hashes, a fraction of the time); restored after."""
    from drgaudit.casebook import accounts

    saved = accounts._hasher
    accounts.configure_hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    try:
        yield
    finally:
        accounts._hasher = saved
