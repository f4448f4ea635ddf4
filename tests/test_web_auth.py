"""Signing in to the review service: sessions, CSRF, lock-out, security headers, nothing open without an account."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session

from drgaudit.casebook.accounts import WebSession, now
from tests.web_support import PASSWORD, Browser, make_accounts, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def app(db_url: str, session: Session):
    make_accounts(session, ("王审核", "auditor"))
    return web_app(db_url)


def test_nothing_but_the_login_page_and_static_files_without_an_account(app) -> None:
    browser = Browser(app)
    response = browser.get("/")
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    response = browser.get("/password?from=menu")
    assert response.headers["location"] == "/login?next=%2Fpassword%3Ffrom%3Dmenu"
    assert browser.get("/login").status_code == 200
    assert browser.get("/static/app.css").status_code == 200


def test_login_sets_a_signed_httponly_samesite_cookie_and_logout_ends_it(app, session: Session) -> None:
    browser = Browser(app)
    response = browser.login("王审核")
    assert (response.status_code, response.headers["location"]) == (303, "/")
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith("drgaudit_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
    assert browser.get("/").status_code == 200
    assert browser.post("/logout", {"csrf_token": "forged"}).status_code == 403
    assert browser.post("/logout").status_code == 303
    assert browser.get("/").status_code == 303
    assert (
        session.exec(
            WebSession.__table__.select().where(WebSession.ended_at.is_(None))  # type: ignore[attr-defined]
        ).all()
        == []
    )


def test_a_forged_or_replayed_cookie_is_refused(app) -> None:
    browser = Browser(app)
    browser.login("王审核")
    good = browser.client.cookies.get("drgaudit_session")

    def use(value: str) -> None:
        browser.client.cookies.clear()
        browser.client.cookies.set("drgaudit_session", value)

    use(good[:-2] + ("AA" if not good.endswith("AA") else "BB"))
    assert browser.get("/").status_code == 303
    use(good)
    assert browser.get("/").status_code == 200
    browser.post("/logout", {"csrf_token": browser.token})
    use(good)  # the old cookie after log-out
    assert browser.get("/").status_code == 303


def test_every_form_needs_its_csrf_token(app) -> None:
    browser = Browser(app)
    response = browser.client.post("/login", data={"username": "王审核", "password": PASSWORD})
    assert response.status_code == 403 and "CSRF" in response.text
    token = browser.csrf("/login")
    other = Browser(app)  # a token from another browser's log-in form does not fit this one's cookie
    response = other.client.post(
        "/login", data={"username": "王审核", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 403
    assert browser.login("王审核").status_code == 303
    response = browser.client.post(
        "/password", data={"current": PASSWORD, "new": "x" * 12, "repeat": "x" * 12}
    )
    assert response.status_code == 403
    # The token travels in a header too (for scripts), and it is the session's: another session's fails.
    response = browser.client.post("/logout", headers={"X-CSRF-Token": browser.token})
    assert response.status_code == 303


def test_sessions_expire_when_idle_and_at_their_end(app, session: Session) -> None:
    browser = Browser(app)
    browser.login("王审核")
    session.execute(update(WebSession).values(last_seen_at=now() - timedelta(minutes=31)))
    session.commit()
    response = browser.get("/")
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    browser.login("王审核")
    session.execute(
        update(WebSession)
        .where(WebSession.ended_at.is_(None))
        .values(expires_at=now() - timedelta(seconds=1))
    )
    session.commit()
    assert browser.get("/").status_code == 303


def test_lock_out_after_five_wrong_passwords(app) -> None:
    browser = Browser(app)
    for _ in range(5):
        response = browser.login("王审核", "wrong password")
        assert response.status_code == 401 and "用户名或密码不正确" in response.text
    response = browser.login("王审核")
    assert response.status_code == 401 and "用户名或密码不正确" in response.text


def test_no_redirect_to_another_site_after_login(app) -> None:
    browser = Browser(app)
    token = browser.csrf("/login")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = browser.client.post(
            "/login", data={"username": "王审核", "password": PASSWORD, "csrf_token": token, "next": target}
        )
        assert response.headers["location"] == "/"
        token = browser.csrf("/login")


def test_security_headers_and_no_inline_script(app) -> None:
    browser = Browser(app)
    browser.login("王审核")
    for path in ("/login", "/", "/nowhere"):
        response = browser.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        scripts = re.findall(r"<script[^>]*>", response.text)
        assert all('src="/static/' in tag for tag in scripts), scripts
        assert " on" not in re.sub(r"<[^>]*>", "", "") and not re.search(r"<[^>]+\son\w+=", response.text)
    assert browser.get("/nowhere").status_code == 404


def test_a_password_set_by_the_administrator_must_be_changed(app, session: Session) -> None:
    from drgaudit.services import accounts as svc

    svc.reset_password(
        session=session, principal=svc.cli_principal(session=session, user="admin"), username="王审核",
        password="temporary password 1",
    )  # fmt: skip
    browser = Browser(app)
    response = browser.login("王审核", "temporary password 1")
    assert response.headers["location"] == "/password"
    assert browser.get("/").headers["location"] == "/password"
    token = browser.csrf("/password")
    response = browser.client.post(
        "/password",
        data={
            "current": "temporary password 1",
            "new": "my own password",
            "repeat": "my own password",
            "csrf_token": token,
        },
    )
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert browser.login("王审核", "my own password").headers["location"] == "/"
    assert browser.get("/").status_code == 200


def test_a_new_password_too_short_is_refused_with_the_length_it_needs(app) -> None:
    """The page said '密码至少 least 个字符。' (the word before the number)."""
    browser = Browser(app)
    assert browser.login("王审核").status_code == 303
    token = browser.csrf("/password")
    page = browser.client.post(
        "/password", data={"current": PASSWORD, "new": "abc", "repeat": "abc", "csrf_token": token}
    )
    assert page.status_code == 400 and "密码至少 10 个字符。" in page.text and "least" not in page.text
