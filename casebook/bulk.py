"""Bulk writes and reads with SQLAlchemy Core, fast enough for a million claims.

`BulkInsert` compiles one Core `insert()` for the connection's dialect once, converts values a column
at a time with the column types' own bind processors (so rows are stored exactly as SQLAlchemy stores
them), and hands value tuples to the driver's `executemany` through `Connection.exec_driver_sql`,
skipping SQLAlchemy's per-row parameter processing, the largest cost of a plain `conn.execute(insert(t),
[dict, …])` at this volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table, bindparam, func, insert, literal_column, select

# Keys per `IN (…)` lookup: well under SQLite's and PostgreSQL's bound-parameter limits.
LOOKUP_KEYS = 5_000


class BulkInsert:
    """One INSERT of the given columns of a table, run with executemany over whole columns of values."""

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str]) -> None:
        dialect = conn.dialect
        self.conn = conn
        self.columns = tuple(columns)
        # SQLite's driver binds None far more slowly than a string; nullable columns get '' and
        # NULLIF turns it back into NULL (no canonical value is ever the empty string).
        self._blank_is_null = dialect.name == "sqlite"
        values: dict[str, Any] = {}
        self._nullable: list[bool] = []
        self._processors: list[Any] = []
        for name in self.columns:
            col = table.c[name]
            param: Any = bindparam(name, type_=col.type)
            nullable = bool(col.nullable) and self._blank_is_null
            if nullable:
                param = func.nullif(param, literal_column("''"))
            values[name] = param
            self._nullable.append(nullable)
            self._processors.append(col.type.dialect_impl(dialect).bind_processor(dialect))
        compiled = insert(table).values(values).compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        if self.positional and tuple(compiled.positiontup or ()) != self.columns:
            raise AssertionError(f"unexpected parameter order in {self.sql}")

    def run(self, columns: Sequence[Sequence[Any]]) -> int:
        """Insert one row per position of the value lists in `columns` (in this insert's column order)."""
        if not columns or not columns[0]:
            return 0
        prepared = []
        for values, process, nullable in zip(columns, self._processors, self._nullable, strict=True):
            if process is not None:
                values = [process(v) for v in values]
            if nullable and None in values:
                values = ["" if v is None else v for v in values]
            prepared.append(values)
        rows: list[Any] = list(zip(*prepared, strict=True))
        if not self.positional:
            names = self.columns
            rows = [dict(zip(names, row, strict=True)) for row in rows]
        self.conn.exec_driver_sql(self.sql, rows)
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
