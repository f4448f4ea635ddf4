"""Helpers for the review service's tests: an application on the test's casebook, accounts, signing in.

`web_app(db_url, **settings)` builds the app with a fixed secret; `Browser` wraps FastAPI's TestClient
with `login`, `form` (a page's CSRF token) and `post` (a form with its token).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from drgaudit.casebook.accounts import GrantRow, count_accounts
from drgaudit.services import accounts as account_service
from drgaudit.services.access import Principal
from drgaudit.web.app import create_app
from drgaudit.web.settings import WebSettings

PASSWORD = "correct horse battery"
SECRET = "test-secret-" + "x" * 40
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_app(db_url: str, *, api: bool = False, **settings: Any):
    """The review service on the test's casebook; `api=True`: with /api/v1 mounted, as `drgaudit serve`
    runs it."""
    web_settings = WebSettings(database_url=db_url, secret_key=SECRET, **settings)
    if api:
        from drgaudit.api.app import create_app as create_service

        return create_service(web_settings)
    return create_app(web_settings)


def make_accounts(session: Session, *accounts: tuple[str, str]) -> None:
    """An administrator `admin`, then (name, ROLE[:SCOPE]) accounts, all with PASSWORD."""
    owner = Principal.owner("root")
    if count_accounts(session=session) == 0:
        account_service.add_user(
            session=session,
            principal=owner,
            username="admin",
            grants=[GrantRow("admin", None)],
            password=PASSWORD,
        )
    boss = account_service.cli_principal(session=session, user="admin")
    for name, role in accounts:
        role_name, _, scope = role.partition(":")
        account_service.add_user(
            session=session, principal=boss, username=name, grants=[GrantRow(role_name, scope or None)],
            password=PASSWORD, display_name=name,
        )  # fmt: skip


class Browser:
    """A TestClient that signs in and fills forms with their CSRF token."""

    def __init__(self, app: Any) -> None:
        self.client = TestClient(app, follow_redirects=False)
        self.token: str | None = None

    def csrf(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:300])
        match = CSRF_RE.search(page.text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, username: str, password: str = PASSWORD) -> Any:
        token = self.csrf("/login")
        response = self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
        if response.status_code == 303:
            self.token = self.csrf(response.headers["location"])
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with the session's CSRF token."""
        fields = dict(data or {})
        fields.setdefault("csrf_token", self.token)
        return self.client.post(path, data=fields, **kwargs)

    def upload(
        self, name: str, data: bytes, table: str = "claims", **form: Any
    ) -> tuple[dict[str, Any], Any]:
        """Upload a file on the batches page and wait for its import (a background job) to end: (the
        job's last state from its poll, the page the upload's answer leads to, with the import's result)."""
        started = self.post("/batches", {"table": table, **form}, files={"upload": (name, data)})
        assert started.status_code == 303, started.text[:500]
        location = started.headers["location"]
        assert location.startswith("/batches?job="), location
        job = wait_for_job(self, int(location.split("=", 1)[1]))
        return job, self.get(location)


def wait_for_job(browser: Browser, job_id: int, timeout: float = 60) -> dict[str, Any]:
    """Poll a job of the batches page until it has ended; its last state."""
    deadline = time.monotonic() + timeout
    while True:
        state = browser.get(f"/batches/jobs/{job_id}")
        assert state.status_code == 200 and state.headers["cache-control"] == "no-store", state.text[:300]
        job = state.json()
        assert job["id"] == job_id
        if not job["running"]:
            return dict(job)
        assert 0 <= job["done"] <= job["total"] and 0 <= job["percent"] <= 100
        assert time.monotonic() < deadline, f"the job did not end in {timeout} s: {job}"
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(casebook_url: str, home: Path, secret: str) -> Iterator[str]:
    """`drgaudit serve` on 127.0.0.1 and a free port, on the casebook; yields its base URL once it answers."""
    port = free_port()
    env = dict(os.environ, DRGAUDIT_HOME=str(home), DRGAUDIT_WEB_SECRET_KEY=secret)
    server = subprocess.Popen(
        [sys.executable, "-m", "drgaudit", "serve", "--port", str(port), "--db", casebook_url],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/login", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode(errors="replace") if server.stdout else ""
                    raise AssertionError(f"the server did not start:\n{output}") from None
                time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
