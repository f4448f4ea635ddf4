"""Bulk statements and the database form of values: what they store is what SQLAlchemy would store."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, insert, select
from sqlmodel import Session

from drgaudit.casebook.bulk import (
    INSERT_ROWS,
    BulkInsert,
    BulkUpdate,
    KeyLookup,
    insert_returning_ids,
    insert_rows,
)
from drgaudit.casebook.models import Hospital, ImportBatch
from drgaudit.casebook.prepare import DatabaseForm

_hospital = Hospital.__table__
COLUMNS = (
    "hospital_id",
    "name",
    "region",
    "level",
    "designated_on",
    "regional_center",
    "content_hash",
    "batch_id",
)


def a_batch(session: Session) -> int:
    values = dict.fromkeys(
        ("rows_total", "rows_ok", "rows_rejected", "rows_new", "rows_unchanged", "rows_revised"), 0
    )
    return (
        session.connection()
        .execute(
            insert(ImportBatch.__table__).values(
                kind="hospitals", file_name="x", content_hash="h", imported_at=datetime.now(UTC), **values
            )
        )
        .inserted_primary_key[0]
    )


def test_bulk_insert_stores_what_sqlalchemy_stores(session: Session, engine: Engine) -> None:
    batch = a_batch(session)
    conn = session.connection()
    form = DatabaseForm("hospitals", conn.dialect)
    records = [
        {
            "hospital_id": "H1",
            "name": "甲",
            "region": "510100",
            "level": "3",
            "designated_on": date(2024, 7, 1),
            "regional_center": True,
        },
        {
            "hospital_id": "H2",
            "name": "乙",
            "region": "510100",
            "level": "2",
            "designated_on": None,
            "regional_center": None,
        },
        {
            "hospital_id": "H3",
            "name": "丙",
            "region": "510700",
            "level": "1",
            "designated_on": date(999, 1, 2),
            "regional_center": False,
        },
    ]
    columns = [form.column(name, [r[name] for r in records]) for name in COLUMNS[:6]]
    BulkInsert(conn, _hospital, COLUMNS).run([*columns, ["h1", "h2", "h3"], [batch] * 3])
    # The same rows through SQLAlchemy's own parameter processing, under other ids.
    conn.execute(
        insert(_hospital),
        [
            {**r, "hospital_id": r["hospital_id"] + "x", "content_hash": "h", "batch_id": batch}
            for r in records
        ],
    )
    rows = {r.hospital_id: r for r in conn.execute(select(_hospital))}
    for hospital_id in ("H1", "H2", "H3"):
        ours, theirs = rows[hospital_id]._mapping, rows[hospital_id + "x"]._mapping
        assert {k: ours[k] for k in COLUMNS[1:6]} == {k: theirs[k] for k in COLUMNS[1:6]}
    assert rows["H2"].designated_on is None and rows["H2"].regional_center is None
    assert rows["H3"].designated_on == date(999, 1, 2)
    raw = conn.exec_driver_sql("SELECT designated_on FROM hospital WHERE hospital_id IN ('H1', 'H1x')").all()
    assert raw[0] == raw[1]


def test_all_none_and_some_none_columns(session: Session) -> None:
    batch = a_batch(session)
    conn = session.connection()
    form = DatabaseForm("hospitals", conn.dialect)
    insert_ = BulkInsert(conn, _hospital, COLUMNS)
    for n, (designated, center) in enumerate(
        [([None, None], [None, None]), ([date(2024, 1, 1), None], [True, None])]
    ):
        values = [form.column("designated_on", designated), form.column("regional_center", center)]
        insert_.run(
            [[f"A{n}", f"B{n}"], ["n", "m"], ["510100"] * 2, ["1"] * 2, *values, ["h"] * 2, [batch] * 2]
        )
    stored = conn.execute(
        select(_hospital.c.hospital_id, _hospital.c.designated_on, _hospital.c.regional_center)
    )
    assert sorted(tuple(r) for r in stored) == [
        ("A0", None, None),
        ("A1", date(2024, 1, 1), True),
        ("B0", None, None),
        ("B1", None, None),
    ]
    if conn.dialect.name == "sqlite":
        assert conn.exec_driver_sql("SELECT count(*) FROM hospital WHERE designated_on = ''").scalar() == 0


def test_bulk_update_and_key_lookup(session: Session) -> None:
    batch = a_batch(session)
    conn = session.connection()
    ids = [f"H{n:04d}" for n in range(5000)]
    BulkInsert(conn, _hospital, COLUMNS).run(
        [
            ids,
            ids,
            ["510100"] * 5000,
            ["1"] * 5000,
            [None] * 5000,
            [None] * 5000,
            ["h"] * 5000,
            [batch] * 5000,
        ]
    )
    BulkUpdate(conn, _hospital, ["hospital_id"], ["level", "content_hash"]).run(
        [{"key_hospital_id": "H0007", "level": "3", "content_hash": "new"}]
    )
    lookup = KeyLookup(
        conn, (_hospital.c.hospital_id, _hospital.c.level, _hospital.c.content_hash), _hospital.c.hospital_id
    )
    assert lookup([]) == []
    assert [tuple(r) for r in lookup(["H0007"])] == [("H0007", "3", "new")]
    some = ids[:9] + ["nope"]
    assert sorted(r.hospital_id for r in lookup(some)) == ids[:9]
    assert len({r.hospital_id for r in lookup(ids)}) == 5000
    where = KeyLookup(conn, (_hospital.c.hospital_id,), _hospital.c.hospital_id, _hospital.c.level == "3")
    assert [r.hospital_id for r in where(ids)] == ["H0007"]


def test_insert_returning_ids_gives_the_ids_of_one_by_one_inserts(session: Session) -> None:
    """Ids in row order, following what the table holds, after rows were deleted at the top too (on
    SQLite: the first row's id, then the next ones under the write lock, checked)."""
    table = ImportBatch.__table__
    counts = dict.fromkeys(
        ("rows_total", "rows_ok", "rows_rejected", "rows_new", "rows_unchanged", "rows_revised"), 0
    )
    now = datetime.now(UTC)

    def rows(n: int, tag: str) -> list[dict[str, object]]:
        return [
            {
                "kind": "claims",
                "file_name": f"{tag}{k}",
                "content_hash": f"h{k}",
                "imported_at": now,
                **counts,
            }
            for k in range(n)
        ]

    first = insert_returning_ids(session=session, table=table, rows=rows(5, "a"))
    assert first == list(range(first[0], first[0] + 5))
    session.connection().execute(table.delete().where(table.c.id >= first[3]))
    many = insert_returning_ids(session=session, table=table, rows=rows(INSERT_ROWS + 3, "b"))
    assert len(many) == INSERT_ROWS + 3 and many == sorted(many) and len(set(many)) == len(many)
    query = select(table.c.id, table.c.file_name).where(table.c.id >= many[0])
    stored = {row.id: row.file_name for row in session.connection().execute(query)}
    assert [stored[i] for i in many] == [f"b{k}" for k in range(INSERT_ROWS + 3)]
    one = (
        session.connection().execute(insert(table).values(rows(1, "c")[0]).returning(table.c.id)).scalar_one()
    )
    assert one == many[-1] + 1  # the next id the database gives is the one after them
    assert insert_returning_ids(session=session, table=table, rows=[]) == []


def test_insert_rows_stores_what_sqlalchemy_stores(session: Session) -> None:
    """Rows giving every column go through BulkInsert with the columns' bind processors applied: the same
    stored values (compared as the driver reads them back) as SQLAlchemy's insert; rows that leave a
    column to its default, or mix None and '' in a column (on SQLite), are left to SQLAlchemy."""
    from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Integer, MetaData, Numeric, String, Table

    table = Table(
        "bulk_rows_probe", MetaData(),
        Column("id", Integer, primary_key=True), Column("tag", String, nullable=False), Column("day", Date),
        Column("at", DateTime(timezone=True)), Column("money", Numeric(14, 2, asdecimal=False)),
        Column("flag", Boolean), Column("note", String), Column("doc", JSON),
    )  # fmt: skip
    conn = session.connection()
    table.create(conn)
    stamp = datetime(2026, 12, 6, 11, 2, 36, 411277, tzinfo=UTC)
    rows = [
        {
            "day": date(2025, 5, 23),
            "at": stamp,
            "money": 20259.18,
            "flag": True,
            "note": "甲",
            "doc": {"a": [1]},
        },
        {"day": None, "at": None, "money": 6384.0, "flag": None, "note": None, "doc": None},
        {"day": date(999, 1, 2), "at": stamp, "money": 0.1, "flag": False, "note": "乙", "doc": ["x"]},
    ]
    assert insert_rows(session=session, table=table, rows=[{"tag": "ours", **row} for row in rows])
    conn.execute(insert(table), [{"tag": "theirs", **row} for row in rows])
    raw = conn.exec_driver_sql(
        "SELECT tag, day, at, money, flag, note, doc FROM bulk_rows_probe ORDER BY id"
    ).all()
    assert [tuple(row[1:]) for row in raw[:3]] == [tuple(row[1:]) for row in raw[3:]]
    assert [row[0] for row in raw] == ["ours"] * 3 + ["theirs"] * 3
    assert not insert_rows(session=session, table=table, rows=[{"tag": "x", "day": None}])
    mixed = [{"tag": "m", **rows[0], "note": ""}, {"tag": "m", **rows[1]}]
    if session.get_bind().dialect.name == "sqlite":
        assert not insert_rows(session=session, table=table, rows=mixed)
    else:
        assert insert_rows(session=session, table=table, rows=mixed)
    assert insert_rows(session=session, table=table, rows=[])
    count = conn.exec_driver_sql("SELECT count(*) FROM bulk_rows_probe").scalar()
    assert count == (6 if session.get_bind().dialect.name == "sqlite" else 8)


def test_bulk_insert_rows_are_made_as_the_driver_takes_them(session: Session) -> None:
    # On SQLite the rows reach executemany as a lazy list (one row, or thousands): the same rows stored.
    batch = a_batch(session)
    conn = session.connection()
    insert_ = BulkInsert(conn, _hospital, COLUMNS)
    for ids in (["S1"], [f"M{n:04d}" for n in range(3000)]):
        count = len(ids)
        blank = [None] * count
        insert_.run(
            [ids, ids, ["510100"] * count, ["1"] * count, blank, blank, ["h"] * count, [batch] * count]
        )
    stored = conn.execute(select(_hospital.c.hospital_id, _hospital.c.name, _hospital.c.region))
    assert sorted(tuple(r) for r in stored) == sorted(
        [("S1", "S1", "510100")] + [(f"M{n:04d}", f"M{n:04d}", "510100") for n in range(3000)]
    )
