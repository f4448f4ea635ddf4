"""Bulk writes and reads with SQLAlchemy Core, fast enough for a million claims.

`BulkInsert` and `BulkUpdate` compile a Core `insert()` / `update()` for the connection's dialect once
and hand value tuples to the driver's `executemany` through `Connection.exec_driver_sql` (inserts on
PostgreSQL go through psycopg's `COPY … FROM STDIN` instead). The values
must already be in the driver's form (`drgaudit.casebook.prepare.DatabaseForm`: the column types' bind
processors applied); this skips SQLAlchemy's per-row parameter processing, the largest cost of a plain
`conn.execute(insert(t), [dict, …])` at this volume.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    Connection,
    Table,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

# Keys per `IN (…)` lookup: well under SQLite's and PostgreSQL's bound-parameter limits.
LOOKUP_KEYS = 4_096


class BulkInsert:
    """One INSERT of the given columns of a table, run with executemany over whole columns of values."""

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str]) -> None:
        dialect = conn.dialect
        self.conn = conn
        self.table = table
        self.columns = tuple(columns)
        # SQLite's driver binds None several times more slowly than a string, so on SQLite a column
        # that is all None in a chunk is left out of the INSERT (it defaults to NULL), and a column
        # with some None gets '' that NULLIF turns back into NULL (no canonical value is '').
        self._sqlite = dialect.name == "sqlite"
        self._nullable = [bool(table.c[name].nullable) for name in self.columns]
        self._statements: dict[tuple[frozenset[int], frozenset[int]], tuple[str, tuple[int, ...], bool]] = {}
        # On PostgreSQL with psycopg the rows go through COPY, several times faster than executemany.
        self._copy_sql: str | None = None
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            quote = dialect.identifier_preparer
            names = ", ".join(quote.quote(name) for name in self.columns)
            self._copy_sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"

    def _copy(self, columns: Sequence[Sequence[Any]], count: int) -> int:
        """COPY the rows in on the connection's own driver connection (so inside its transaction)."""
        assert self._copy_sql is not None
        dbapi = self.conn.connection.dbapi_connection
        assert dbapi is not None
        cursor: Any = dbapi.cursor()  # a psycopg cursor (the DB-API type knows no COPY)
        try:
            with cursor.copy(self._copy_sql) as copy:
                write = copy.write_row
                for row in zip(*columns, strict=True):
                    write(row)
        except self.conn.dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
            # As SQLAlchemy raises it for an INSERT: callers that retry a lost race (two requests storing
            # the same new claim) catch IntegrityError; the driver's own error was a server error.
            raise IntegrityError(self._copy_sql, None, exc) from exc
        finally:
            cursor.close()
        return count

    def _statement(self, omitted: frozenset[int], blank: frozenset[int]) -> tuple[str, tuple[int, ...], bool]:
        """SQL of the INSERT without `omitted` and with NULLIF on `blank`, the positions (in
        `self.columns`) of its parameters in order, and whether they are positional."""
        key = (omitted, blank)
        if key not in self._statements:
            values: dict[str, Any] = {}
            for k, name in enumerate(self.columns):
                if k in omitted:
                    continue
                param: Any = bindparam(name, type_=self.table.c[name].type)
                values[name] = func.nullif(param, literal_column("''")) if k in blank else param
            compiled = insert(self.table).values(values).compile(dialect=self.conn.dialect)
            positional = bool(compiled.positional)
            names = tuple(compiled.positiontup or ()) if positional else tuple(values)
            if sorted(names) != sorted(values):
                raise AssertionError(f"unexpected parameters in {compiled}")
            self._statements[key] = (str(compiled), tuple(map(self.columns.index, names)), positional)
        return self._statements[key]

    def run(self, columns: Sequence[Sequence[Any]]) -> int:
        """Insert one row per position of the value lists in `columns` (in this insert's column order).

        The values must be in the driver's form (see the module docstring).
        """
        count = len(columns[0]) if columns else 0
        if not count:
            return 0
        if self._copy_sql is not None:
            return self._copy(columns, count)
        prepared: dict[int, Sequence[Any]] = {}
        omitted: set[int] = set()
        blank: set[int] = set()
        for k, (values, nullable) in enumerate(zip(columns, self._nullable, strict=True)):
            missing = values.count(None) if self._sqlite and nullable else 0
            if missing == count:
                omitted.add(k)
                continue
            if missing:
                values = ["" if v is None else v for v in values]
                blank.add(k)
            prepared[k] = values
        sql, order, positional = self._statement(frozenset(omitted), frozenset(blank))
        ordered = [prepared[k] for k in order]
        rows: list[Any]
        if positional:
            rows = _Rows(ordered, count)
        else:
            names = [self.columns[k] for k in order]
            rows = [dict(zip(names, row, strict=True)) for row in zip(*ordered, strict=True)]
        self.conn.exec_driver_sql(sql, rows)
        return count


class _Rows(list[tuple[Any, ...]]):
    """The rows of value columns for a driver's executemany, made as the driver takes them.

    To SQLAlchemy it is a list of `count` tuples (it looks at the first row and the length only); the
    driver iterates it, which zips the columns: zip reuses its row tuple once the driver has bound it
    and let go, so no tuple per row is built and freed (about 1 us per claim of the importing process
    for the claim table's 40 columns).
    """

    def __init__(self, columns: Sequence[Sequence[Any]], count: int) -> None:
        super().__init__([tuple(column[0] for column in columns)])
        self._columns = columns
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return zip(*self._columns, strict=True)


class BulkUpdate:
    """One UPDATE of the given columns of rows found by key columns, run with executemany."""

    def __init__(self, conn: Connection, table: Table, keys: Sequence[str], columns: Sequence[str]) -> None:
        self.conn = conn
        statement = (
            update(table)
            .where(*(table.c[key] == bindparam(f"key_{key}", type_=table.c[key].type) for key in keys))
            .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        )
        compiled = statement.compile(dialect=conn.dialect)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        self.order = tuple(compiled.positiontup or ())

    def run(self, rows: Sequence[dict[str, Any]]) -> int:
        """Update one row per dict of `key_<key>` and column values (in the driver's form)."""
        if not rows:
            return 0
        params: list[Any] = (
            [tuple(row[name] for name in self.order) for row in rows] if self.positional else list(rows)
        )
        self.conn.exec_driver_sql(self.sql, params)
        return len(rows)


def lookup(
    conn: Connection, columns: Sequence[Column[Any]], key: Column[Any], keys: Sequence[Any], *where: Any
) -> list[Any]:
    """Rows of `columns` whose `key` is one of `keys`, fetched `LOOKUP_KEYS` keys at a time."""
    found: list[Any] = []
    for start in range(0, len(keys), LOOKUP_KEYS):
        part = list(keys[start : start + LOOKUP_KEYS])
        found.extend(conn.execute(select(*columns).where(key.in_(part), *where)).all())
    return found


class KeyLookup:
    """SELECT plain columns (text, numbers) of the rows whose `key` is one of many keys.

    The statement is compiled once per key-list size, sizes being rounded up to a power of two by
    repeating the last key; this avoids SQLAlchemy rendering an expanding `IN` anew for every key,
    which costs more than the query itself at 10,000 keys. On SQLite the keys go as one JSON array
    read by `json_each`, on PostgreSQL as one array (`= ANY(…)`): one bound value instead of thousands. Values come
    back as the driver gives them, so only use it for columns whose type has no result processing
    (strings, integers); keys are strings or integers.
    """

    def __init__(
        self, conn: Connection, columns: Sequence[Column[Any]], key: Column[Any], *where: Any
    ) -> None:
        self.conn = conn
        self.columns = tuple(columns)
        self.key = key
        self.where = where
        self._statements: dict[int, tuple[str, tuple[str, ...], dict[str, Any], bool]] = {}

    def _statement(self, size: int) -> tuple[str, tuple[str, ...], dict[str, Any], bool]:
        if size not in self._statements:
            params = [bindparam(f"lookup_key_{i}", type_=self.key.type) for i in range(size)]
            statement = select(*self.columns).where(self.key.in_(params), *self.where)
            compiled = statement.compile(dialect=self.conn.dialect)
            fixed = {
                name: bind.value
                for name, bind in compiled.binds.items()
                if not name.startswith("lookup_key_")
            }
            order = tuple(compiled.positiontup or ())
            self._statements[size] = (str(compiled), order, fixed, bool(compiled.positional))
        return self._statements[size]

    def _one_value_statement(self) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """The statement taking all the keys as one value: a JSON array on SQLite, an array on PostgreSQL."""
        if -1 not in self._statements:
            matches: Any
            if self.conn.dialect.name == "sqlite":
                keys: Any = select(literal_column("value")).select_from(
                    func.json_each(bindparam("lookup_keys"))
                )
                matches = self.key.in_(keys.scalar_subquery())
            else:
                matches = self.key == any_(bindparam("lookup_keys", type_=ARRAY(self.key.type)))
            statement = select(*self.columns).where(matches, *self.where)
            compiled = statement.compile(dialect=self.conn.dialect)
            fixed = {name: bind.value for name, bind in compiled.binds.items() if name != "lookup_keys"}
            self._statements[-1] = (str(compiled), tuple(compiled.positiontup or ()), fixed, True)
        sql, order, fixed, _positional = self._statements[-1]
        return sql, order, fixed

    def __call__(self, keys: Sequence[Any]) -> list[Any]:
        """The rows of these keys, any order."""
        if not keys:
            return []
        dialect = self.conn.dialect.name
        if dialect in ("sqlite", "postgresql"):
            sql, order, fixed = self._one_value_statement()
            one = dict(fixed, lookup_keys=json.dumps(list(keys)) if dialect == "sqlite" else list(keys))
            bound: Any = tuple(one[name] for name in order) if order else one
            return list(self.conn.exec_driver_sql(sql, bound).all())
        found: list[Any] = []
        for start in range(0, len(keys), LOOKUP_KEYS):
            part = list(keys[start : start + LOOKUP_KEYS])
            size = 8
            while size < len(part):
                size *= 2
            part += [part[-1]] * (size - len(part))
            sql, order, fixed, positional = self._statement(size)
            values = {f"lookup_key_{i}": key for i, key in enumerate(part)}
            values.update(fixed)
            params: Any = tuple(values[name] for name in order) if positional else values
            found.extend(self.conn.exec_driver_sql(sql, params).all())
        return found


def one_of(column: Any, keys: Sequence[Any], dialect: str) -> Any:
    """`column IN keys` with the keys bound as ONE value (a JSON array read by `json_each` on SQLite, an
    array on PostgreSQL; a plain IN elsewhere): SQLAlchemy renders an expanding IN anew for every key of
    every execution, which cost more than the lookup of a page of thousands of keys. Keys are text or
    integers."""
    if dialect == "sqlite":
        array: Any = bindparam(None, json.dumps(list(keys)))
        return column.in_(
            select(literal_column("value")).select_from(func.json_each(array)).scalar_subquery()
        )
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(keys), type_=ARRAY(column.type)))
    return column.in_(list(keys))


# Rows per INSERT of `insert_returning_ids`.
INSERT_ROWS = 2000


def insert_returning_ids(*, session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert rows (dicts of column values) with Core inserts, `INSERT_ROWS` per statement, and return
    their new ids in the rows' order: the ids the ORM would have given them one by one, at a fraction of
    its cost per row (a stored screen creates thousands of cases and findings at once)."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite_insert_ids(session, table, rows)
    ids: list[int] = []
    for start in range(0, len(rows), INSERT_ROWS):
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids.extend(session.execute(statement, list(rows[start : start + INSERT_ROWS])).scalars())
    return ids


def insert_rows(*, session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> bool:
    """Insert rows (dicts with the same keys: every column but an autoincrement `id`) through `BulkInsert`,
    the columns' own bind processors applied a column at a time: what SQLAlchemy's insert stores, without
    its processing per row, which cost more than the insert. False (nothing done) when the rows do not
    give every column (SQLAlchemy would fill the others from their defaults)."""
    if not rows:
        return True
    names = tuple(rows[0])
    autoincrement = table.autoincrement_column
    if set(names) != {column.name for column in table.c if column is not autoincrement}:
        return False
    conn = session.connection()
    dialect = conn.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    columns: list[list[Any]] = []
    for name, process in zip(names, processors, strict=True):
        values = [row[name] for row in rows]
        columns.append(values if process is None else _bound(values, process))
        if dialect.name == "sqlite" and None in values and "" in values:
            return False  # BulkInsert writes None as '' made NULL again on SQLite: '' would not stay ''
    writer = BulkInsert(conn, table, names)
    for start in range(0, len(rows), INSERT_ROWS):
        writer.run([values[start : start + INSERT_ROWS] for values in columns])
    return True


def _bound(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """`process` (a column's bind processor) of each value, worked out once per run of one object and
    once per distinct date: a page of new cases or findings shares its time stamps (the same object) and
    its due dates (equal dates), and SQLite's date and time processors format each value in Python (1 to
    2 us). A processor gives equal output for the same object, and for equal plain dates (equal fields)."""
    out: list[Any] = []
    last: Any = _NO_VALUE
    done: Any = None
    dates: dict[date, Any] = {}
    for value in values:
        if value is not last:
            last = value
            if type(value) is date:
                done = dates.get(value, _NO_VALUE)
                if done is _NO_VALUE:
                    done = dates[value] = process(value)
            else:
                done = process(value)
        out.append(done)
    return out


_NO_VALUE: Any = object()


def _sqlite_insert_ids(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """`insert_returning_ids` on SQLite. SQLAlchemy cannot keep RETURNING in parameter order there and
    inserts one row per statement; instead the first row is inserted alone for its id, which takes the
    write lock, and the others in one executemany: under the lock SQLite gives each next row the
    largest id + 1, so they get the following ids (checked below), as one by one."""
    first = int(session.execute(insert(table).returning(table.c.id), dict(rows[0])).scalar_one())
    rest = list(rows[1:])
    if rest and not insert_rows(session=session, table=table, rows=rest):
        for start in range(0, len(rest), INSERT_ROWS):
            session.execute(insert(table), rest[start : start + INSERT_ROWS])
    last = first + len(rows) - 1
    count, top = session.execute(select(func.count(), func.max(table.c.id)).where(table.c.id >= first)).one()
    if (count, top) != (len(rows), last):
        raise AssertionError(f"{table.name}: {len(rows)} rows from id {first} got {count} ids up to {top}")
    return list(range(first, last + 1))
