"""Keeping the message catalogs in step with the code (developers; needs Babel, a test dependency).

    python -m drgaudit.i18n_tools update    # extract _()/N_()/ngettext() messages, merge into every .po
    python -m drgaudit.i18n_tools compile   # .po -> .mo (the .mo ships in the package)
    python -m drgaudit.i18n_tools check     # exit 1 if a message lacks a translation or a .mo is stale

Translate the new `msgid`s in drgaudit/locale/zh_CN/LC_MESSAGES/drgaudit.po (placeholders such as
`{n}` stay as they are), then `compile`. tests/test_i18n.py runs `check`.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from drgaudit.i18n import DOMAIN, LOCALE_DIR

ROOT = LOCALE_DIR.parents[1]
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
KEYWORDS = ["-k", "_", "-k", "N_", "-k", "ngettext:1,2"]


def _pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], cwd=ROOT, check=True)


def catalogs() -> list[Path]:
    """Every translation (.po) of the domain."""
    return sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def extract() -> list[str]:
    """The message ids the code uses now (without writing anything)."""
    from babel.messages.extract import extract_from_dir

    ids: set[str] = set()
    for folder in ("drgaudit", "engine", "casebook", "reports"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder,
            method_map=[("**.py", "python")],
            keywords={"_": None, "N_": None, "ngettext": (1, 2)},
        ):
            ids.add(message if isinstance(message, str) else message[0])
    return sorted(ids)


def update() -> None:
    _pybabel(
        "extract", "-F", "babel.cfg", *KEYWORDS, "--no-location", "--sort-output", "-o", str(TEMPLATE), "."
    )
    _pybabel("update", "-D", DOMAIN, "-i", str(TEMPLATE), "-d", str(LOCALE_DIR), "--no-fuzzy-matching")


def compile_all() -> None:
    _pybabel("compile", "-D", DOMAIN, "-d", str(LOCALE_DIR), "--statistics")


def problems() -> list[str]:
    """Messages of the code missing from a catalog or untranslated, and .mo files not built from their .po."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    found = []
    wanted = extract()
    for po_path in catalogs():
        with open(po_path, "rb") as f:
            catalog = read_po(f)
        for message_id in wanted:
            message = catalog.get(message_id)
            if message is None:
                found.append(
                    f"{po_path}: missing {message_id!r} (run `python -m drgaudit.i18n_tools update`)"
                )
            elif not message.string or (isinstance(message.string, tuple) and not all(message.string)):
                found.append(f"{po_path}: no translation for {message_id!r}")
            elif message.fuzzy:
                found.append(f"{po_path}: fuzzy translation for {message_id!r}")
        built = io.BytesIO()
        write_mo(built, catalog)
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.is_file() or mo_path.read_bytes() != built.getvalue():
            found.append(
                f"{mo_path}: not built from {po_path.name} (run `python -m drgaudit.i18n_tools compile`)"
            )
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
