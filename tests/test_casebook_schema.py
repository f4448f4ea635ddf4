"""The casebook schema: migrations agree with the models, and the models with the data contract."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Date, Engine, Float, Numeric, inspect
from sqlmodel import SQLModel

from drgaudit.casebook import models
from drgaudit.casebook.db import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)
from drgaudit.contract import FIELDS_BY_KIND
from drgaudit.errors import DatabaseError
from drgaudit.ingest.rows import MONEY_FIELDS

TABLES = {
    "alembic_version",
    "batch_claim",
    "claim",
    "claim_code",
    "claim_revision",
    "group_entry",
    "hospital",
    "import_batch",
    "rejected_row",
}


def test_migrated_schema_equals_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_first_revision_creates_every_table(engine: Engine) -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_base() == "0001_foundation"
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_make_engine_twice_on_one_database(db_url: str) -> None:
    first = make_engine(db_url)
    second = make_engine(db_url)
    with second.connect() as conn:
        assert current_revision(conn) == head_revision()
    first.dispose()
    second.dispose()


def _columns(table: object) -> dict[str, object]:
    return {c.name: c for c in table.columns}  # type: ignore[attr-defined]


def test_tables_carry_every_contract_field_with_its_type() -> None:
    tables = {"claims": models.Claim, "hospitals": models.Hospital, "groups": models.GroupEntry}
    for kind, model in tables.items():
        columns = _columns(model.__table__)
        for field in FIELDS_BY_KIND[kind]:
            column = columns[field.name]
            assert column.nullable == (not field.required), field.name
            kind_of_type = type(column.type)
            if field.type == "date":
                assert issubclass(kind_of_type, Date), field.name
            elif field.name in MONEY_FIELDS:
                assert issubclass(kind_of_type, Numeric) and (column.type.precision, column.type.scale) == (
                    14,
                    2,
                )
            elif field.type == "decimal":
                assert issubclass(kind_of_type, Float), field.name


def test_claim_bookkeeping_columns() -> None:
    columns = _columns(models.Claim.__table__)
    assert {"content_hash", "revision", "batch_id"} <= set(columns)
    assert [fk.column.table.name for fk in columns["batch_id"].foreign_keys] == ["import_batch"]
    code_key = [c.name for c in models.ClaimCode.__table__.primary_key.columns]
    assert code_key == ["code", "claim_id", "kind", "seq"]
    unique = [c for c in models.GroupEntry.__table__.constraints if c.name == "uq_group_entry_key"][0]
    assert [c.name for c in unique.columns] == ["region", "scheme", "version", "group_code"]


def test_sqlite_pragmas(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'casebook.sqlite'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_unopenable_database_is_a_database_error(tmp_path) -> None:
    with pytest.raises(DatabaseError, match="cannot open casebook"):
        make_engine(f"sqlite:///{tmp_path / 'missing-folder' / 'casebook.sqlite'}")
    with pytest.raises(DatabaseError, match="cannot use database URL nosuchdialect://x"):
        make_engine("nosuchdialect://x")


def test_bare_path_and_env_url(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DRGAUDIT_DATABASE_URL", str(tmp_path / "env.sqlite"))
    engine = make_engine()
    assert engine.url.database == str(tmp_path / "env.sqlite")
    engine.dispose()
    assert (tmp_path / "env.sqlite").exists()
