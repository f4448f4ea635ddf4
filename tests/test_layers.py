"""The data flows one way: a lower layer never imports a higher one (docs/ARCHITECTURE.md "Layers")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Folder → the package it imports as, lowest layer first. A module may import its own layer and any
# layer before it in this list, never one after it.
LAYERS: list[tuple[str, str]] = [
    ("drgaudit/ingest", "drgaudit.ingest"),
    ("engine", "drgaudit.engine"),
    ("casebook", "drgaudit.casebook"),
    ("reports", "drgaudit.reports"),
    ("drgaudit/services", "drgaudit.services"),
]
# The base (contract, errors, settings) imports no layer at all; the top (cli, web, demo) may import any.
BASE = [
    "drgaudit/contract.py",
    "drgaudit/errors.py",
    "drgaudit/settings.py",
    "drgaudit/labels.py",
    "drgaudit/i18n.py",
    "drgaudit/periods.py",
    "drgaudit/bulkgc.py",
    "drgaudit/jsontext.py",
    "drgaudit/terminal.py",
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _layer_of(module: str) -> int | None:
    for index, (_folder, package) in enumerate(LAYERS):
        if module == package or module.startswith(package + "."):
            return index
    return None


def _modules(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("index", range(len(LAYERS)), ids=[package for _, package in LAYERS])
def test_no_layer_imports_a_higher_one(index: int) -> None:
    folder, package = LAYERS[index]
    offences = []
    for path in _modules(folder):
        for module in sorted(_imports(path)):
            layer = _layer_of(module)
            if layer is not None and layer > index:
                offences.append(
                    f"{path.relative_to(ROOT)} imports {module} ({LAYERS[layer][1]} is above {package})"
                )
            if module.startswith(("drgaudit.cli", "drgaudit.web", "drgaudit.api", "drgaudit.demo")):
                offences.append(f"{path.relative_to(ROOT)} imports {module} (the top layer)")
    assert offences == []


def test_the_base_imports_no_layer() -> None:
    offences = [
        f"{name} imports {module}"
        for name in BASE
        for module in sorted(_imports(ROOT / name))
        if module.startswith("drgaudit.") and module.split(".")[1] not in {Path(b).stem for b in BASE}
    ]
    assert offences == []


# The top layer: the CLI, the web pages, the API and the demo are siblings that call services (and lower
# layers). A page or an API route never goes through the CLI, and the demo generator stands apart from
# the ways in. The web app and the API are one application (the app mounts the API's router, the API
# shares the app's request checks), so they may import each other.
TOP = {
    "drgaudit/cli": ("drgaudit.cli", ()),
    "drgaudit/web": ("drgaudit.web", ("drgaudit.cli", "drgaudit.demo")),
    "drgaudit/api": ("drgaudit.api", ("drgaudit.cli", "drgaudit.demo")),
    "drgaudit/demo": ("drgaudit.demo", ("drgaudit.cli", "drgaudit.web", "drgaudit.api")),
}


@pytest.mark.parametrize("folder", sorted(TOP))
def test_the_top_layer_does_not_go_through_a_sibling(folder: str) -> None:
    _package, forbidden = TOP[folder]
    offences = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _modules(folder)
        for module in sorted(_imports(path))
        if forbidden and module.startswith(forbidden)
    ]
    assert offences == []


def test_every_package_folder_has_a_layer() -> None:
    """A new folder under drgaudit/ must be placed in a layer here (and in docs/ARCHITECTURE.md)."""
    placed = {folder for folder, _ in LAYERS} | set(TOP)
    folders = {
        f"drgaudit/{p.name}"
        for p in (ROOT / "drgaudit").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    }
    assert folders <= placed, sorted(folders - placed)


# reports/ builds its data through casebook queries (casebook/queries.py and the other data functions),
# never with SQL of its own.


def test_reports_build_their_data_through_casebook_queries() -> None:
    offences = []
    for path in _modules("reports"):
        name = str(path.relative_to(ROOT))
        imported = _imports(path)
        if "sqlmodel.Session" in imported:  # the session as a type: handed on to casebook functions
            imported -= {"sqlmodel", "sqlmodel.Session"}
        queries = {m for m in imported if m.split(".")[0] in ("sqlalchemy", "sqlmodel")}
        if queries:
            offences.append(f"{name} imports {sorted(queries)}")
    assert offences == []
