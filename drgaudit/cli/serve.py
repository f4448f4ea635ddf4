"""`drgaudit serve`: the review service (web pages and the API) under uvicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from drgaudit.cli.options import MAX_WORKERS, DbOption
from drgaudit.errors import DatabaseError, DrgauditError


def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="ADDRESS", help="Address to listen on (put a TLS proxy in front for others)."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=1, max=65535, help="Port to listen on.")
    ] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", "-j", metavar="N", min=1, max=MAX_WORKERS, help="Worker processes.")
    ] = 1,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            metavar="DIR",
            help="Rule pack whose region settings apply (default: bundled).",
            file_okay=False,
            exists=True,
        ),
    ] = None,
    proxy: Annotated[
        bool,
        typer.Option(
            "--behind-proxy",
            help="Trust X-Forwarded-For/-Proto from the proxy on 127.0.0.1 (client addresses, https).",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Start the review service (pages for auditors, meetings, hospitals and insured regions; the API).

    The casebook is migrated first. Sign in with an account made by `drgaudit users add`; the first
    administrator is created on this machine with no account:

        drgaudit users add admin --role admin

    Examples:

        drgaudit serve

        drgaudit serve --host 0.0.0.0 --port 8080 --workers 4 --db postgresql+psycopg://drgaudit:secret@127.0.0.1/drgaudit
    """
    import shutil
    import tempfile

    import uvicorn
    from sqlmodel import Session

    from drgaudit.api.ratelimit import SharedRateLimiter
    from drgaudit.casebook.accounts import count_accounts
    from drgaudit.casebook.db import make_engine, missing_file
    from drgaudit.settings import database_url
    from drgaudit.web.settings import WebSettings

    url = database_url(db)
    os.environ["DRGAUDIT_WEB_DATABASE_URL"] = url
    if rules is not None:
        os.environ["DRGAUDIT_WEB_RULES_DIR"] = str(rules.resolve())
    try:
        # A misspelt --db made an empty casebook there, and the service asked for a first administrator.
        missing = missing_file(url)
        if missing is not None:
            raise DatabaseError(
                f"no casebook at {missing} (no such file): give --db the casebook's path or URL; a new casebook "
                "starts with its first administrator (`drgaudit users add admin --role admin`) or an import "
                "(`drgaudit import`, `drgaudit demo`)"
            )
        settings = WebSettings()
        settings.secret()  # the key file exists before the workers start, so they all share it
        engine = make_engine(url)  # migrate once, here, not in every worker at the same time
        try:
            with Session(engine) as session:
                accounts = count_accounts(session=session)
        finally:
            engine.dispose()
    except DrgauditError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except ValueError as exc:  # a bad DRGAUDIT_WEB_* setting
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(
        f"drgaudit review service on http://{shown}:{port}/ (casebook {_masked(url)}, {workers} worker(s))"
    )
    if accounts == 0:
        typer.echo("no account yet: create the first administrator on this machine with")
        typer.echo("    drgaudit users add admin --role admin" + (" --db URL" if db else ""))
    # The workers share one rate limit per API key (drgaudit.api.ratelimit): its buckets' file.
    shared = Path(tempfile.mkdtemp(prefix="drgaudit-serve-"))
    os.environ["DRGAUDIT_API_RATE_FILE"] = str(SharedRateLimiter.create(shared / "rate-limit"))
    try:
        uvicorn.run(
            "drgaudit.api.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
            proxy_headers=proxy, forwarded_allow_ips="127.0.0.1" if proxy else None, server_header=False,
            log_level="info",
        )  # fmt: skip
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return url
