"""Alembic environment of the casebook.

drgaudit runs the migrations itself (`drgaudit.casebook.db.upgrade`) and hands over an open connection
in `config.attributes["connection"]`; the `alembic` command line gets a URL from `sqlalchemy.url` in
alembic.ini or, failing that, from `drgaudit.settings.database_url()`. SQLite needs batch mode
(`render_as_batch`) because it cannot alter tables in place.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, create_engine, pool
from sqlmodel import SQLModel

from drgaudit.casebook import (  # noqa: F401  (registers the tables)
    accounts,
    apikeys,
    attachments,
    auditlog,
    findings,
    models,
    packs,
    replies,
    review_models,
    screenjobs,
    screening,
    shadow,
)
from drgaudit.settings import database_url

config = context.config
target_metadata = SQLModel.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the connection drgaudit gave, or one opened from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = config.get_main_option("sqlalchemy.url") or database_url()
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(conn)
    engine.dispose()


def run_migrations_offline() -> None:
    """Emit the migration SQL for the configured URL's dialect instead of running it."""
    url = config.get_main_option("sqlalchemy.url") or database_url()
    context.configure(
        url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=url.startswith("sqlite")
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
