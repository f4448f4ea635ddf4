"""Messages for auditors in their language: gettext catalogs (Chinese for zh_CN), English otherwise.

Mark a message where it is printed, never at import time (the locale is read on first use):

    from drgaudit.i18n import _, ngettext
    typer.echo(_("screened {claims} claims").format(claims=n))
    typer.echo(ngettext("{n} error", "{n} errors", n).format(n=n))

The language comes from the environment as gettext reads it: LANGUAGE, LC_ALL, LC_MESSAGES, LANG
(`LANG=zh_CN.UTF-8` gives Chinese). The catalogs are `drgaudit/locale/<lang>/LC_MESSAGES/drgaudit.po`,
extracted and compiled with Babel (`python -m drgaudit.i18n_tools update|compile`; the compiled .mo
ships beside its .po and a test keeps the two in step). Only the standard library is used at run time.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

DOMAIN = "drgaudit"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# The language a block of work speaks whatever the environment says (`speaking`): the review service's
# pages are Chinese on a server started under any locale. A context variable, so that it follows a
# request into the worker thread that runs it, and no further.
_SPOKEN: ContextVar[str | None] = ContextVar("drgaudit_spoken_language", default=None)


@cache
def translation() -> gettext.NullTranslations:
    """The catalog for the environment's language (cached; `reset()` after changing the environment)."""
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, fallback=True)


def reset() -> None:
    """Forget the cached catalog, so that the next message reads the environment again."""
    translation.cache_clear()


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True)


def _current() -> gettext.NullTranslations:
    spoken = _SPOKEN.get()
    return _catalog(spoken) if spoken else translation()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Messages in `language` (e.g. "zh_CN") within the block, whatever the environment's language."""
    token = _SPOKEN.set(language)
    try:
        yield
    finally:
        _SPOKEN.reset(token)


def _(message: str) -> str:
    """`message` in the user's language."""
    return _current().gettext(message)


def N_(message: str) -> str:
    """Mark `message` for the catalog where it is declared once (a table's column heading at module level);
    it is translated where it is printed, with `_()`."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, in the user's language."""
    return _current().ngettext(singular, plural, n)


def language() -> str:
    """The language of the messages in use as its catalog names it ("zh_Hans_CN"), or "en" when no catalog
    applies."""
    info = _current().info()
    return info.get("language", "en") or "en"
