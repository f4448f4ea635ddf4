"""Reads a rules directory in one pass: every file parsed, every error collected, then linted.

A pack with any error is refused whole (`RulePackError`), so a half-loaded pack never screens a claim.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
from dataclasses import dataclass, field
from pathlib import Path

from drgaudit.engine.exceptions import RuleFileError, RulePackError
from drgaudit.engine.lists import NamedList, list_from_document
from drgaudit.engine.pack import ExampleDefaults, PackMeta, RulePack
from drgaudit.engine.references import REFERENCES_FILE, references_from_document
from drgaudit.engine.region import NATIONAL, RegionConfig, region_from_document
from drgaudit.engine.rule import Rule
from drgaudit.engine.suggest import did_you_mean
from drgaudit.engine.typedyaml import validate
from drgaudit.engine.yamlsource import Position, YamlDocument, YList, YMap, load_yaml, read_source

PACK_FILE = "pack.yaml"
RULE_FILE_KEYS = ("families", "rules")
DEFAULTS_KEYS = ("claim", "hospital", "group", "history_claim")


def bundled_rules_dir() -> Path:
    """The rule pack shipped with drgaudit (the repo's `rules/` folder)."""
    return Path(str(importlib.resources.files("drgaudit.rules")))


@dataclass
class PackCheck:
    """The outcome of reading a rules directory: the pack if usable, and every error and warning."""

    pack: RulePack | None
    errors: list[RuleFileError] = field(default_factory=list)
    warnings: list[RuleFileError] = field(default_factory=list)
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def _display(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when inside it, else absolute."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        return absolute
    return absolute if relative.startswith("..") else relative


def _read(path: Path, errors: list[RuleFileError]) -> tuple[YamlDocument | None, str]:
    shown = _display(path)
    digest = ""
    try:
        # Read once, safely (no FIFO or device is waited on, no file is read beyond its limit).
        data = read_source(path, shown)
        digest = hashlib.sha256(data).hexdigest()
        return load_yaml(path, display_path=shown, data=data), digest
    except RuleFileError as exc:
        errors.append(exc)
        return None, digest


def read_pack(directory: Path | str | None = None) -> PackCheck:
    """Parse and lint every file of a rules directory; never raises for content problems."""
    from drgaudit.engine.lint import lint_pack

    root = Path(directory) if directory is not None else bundled_rules_dir()
    errors: list[RuleFileError] = []
    if not root.is_dir():
        # Say which: a misspelt folder is the usual case, and "not a rules directory" left it a guess.
        reason = (
            "not a rules directory: it is a file; give the folder that holds pack.yaml"
            if root.exists()
            else "no such directory; give the folder that holds pack.yaml (without one: the bundled rules)"
        )
        errors.append(RuleFileError(Position(str(root), 1, 1), reason))
        return PackCheck(None, errors)
    hashes: dict[str, str] = {}
    files = 0

    defaults, meta = _read_pack_file(root, errors, hashes)
    files += 1

    families: dict[str, str] = {}
    rules: list[Rule] = []
    declared_ids: set[str] = set()
    for path in sorted(root.glob("*.yaml")):
        if path.name in (PACK_FILE, REFERENCES_FILE):
            continue
        files += 1
        doc, digest = _read(path, errors)
        hashes[path.name] = digest
        if doc is None:
            continue
        rules.extend(_rules_from_document(doc, digest, families, declared_ids, errors))

    lists, count = _read_lists(root, errors, hashes)
    files += count
    regions, count = _read_regions(root, errors, hashes)
    files += count
    if NATIONAL not in regions and not any(e.position.path.endswith(f"{NATIONAL}.yaml") for e in errors):
        errors.append(
            RuleFileError(
                Position(_display(root / "regions" / f"{NATIONAL}.yaml"), 1, 1),
                "the national defaults file is missing",
            )
        )

    references = None
    reference_path = root / REFERENCES_FILE
    if reference_path.is_file():
        files += 1
        doc, digest = _read(reference_path, errors)
        hashes[REFERENCES_FILE] = digest
        if doc is not None:
            references = references_from_document(doc, errors)

    pack = None
    if NATIONAL in regions and defaults is not None and meta is not None:
        pack = RulePack(
            directory=root,
            name=meta.name,
            rules=tuple(rules),
            lists=lists,
            national=regions[NATIONAL],
            regions={code: cfg for code, cfg in regions.items() if code != NATIONAL},
            families=families,
            example_defaults=defaults,
            file_hashes=hashes,
            declared_ids=frozenset(declared_ids),
            allow_placeholder_rates=meta.allow_placeholder_rates,
            references=references,
        )
    warnings: list[RuleFileError] = []
    if pack is not None:
        lint_errors, warnings = lint_pack(pack)
        errors.extend(lint_errors)
    errors.sort(key=lambda e: (e.position.path, e.position.line, e.position.col))
    warnings.sort(key=lambda e: (e.position.path, e.position.line, e.position.col))
    if errors:
        return PackCheck(None, errors, warnings, files)
    return PackCheck(pack, errors, warnings, files)


def _read_lists(
    root: Path, errors: list[RuleFileError], hashes: dict[str, str]
) -> tuple[dict[str, NamedList], int]:
    """The named lists of `lists/` (one per file, named as the file), and how many files were read."""
    lists: dict[str, NamedList] = {}
    paths = sorted((root / "lists").glob("*.yaml"))
    for path in paths:
        doc, digest = _read(path, errors)
        hashes[f"lists/{path.name}"] = digest
        if doc is None:
            continue
        named = list_from_document(doc, errors)
        if named is None:
            continue
        if named.name != path.stem:
            errors.append(
                RuleFileError(
                    doc.data.value_at("name"),
                    f"list `{named.name}` is in a file named {path.name}",
                    f"name the file {named.name}.yaml",
                )
            )
        elif named.name in lists:
            errors.append(RuleFileError(named.position, f"list `{named.name}` is defined twice"))
        else:
            lists[named.name] = named
    return lists, len(paths)


def _read_regions(
    root: Path, errors: list[RuleFileError], hashes: dict[str, str]
) -> tuple[dict[str, RegionConfig], int]:
    """The region files of `regions/` by code, and how many files were read."""
    regions: dict[str, RegionConfig] = {}
    paths = sorted((root / "regions").glob("*.yaml"))
    for path in paths:
        doc, digest = _read(path, errors)
        hashes[f"regions/{path.name}"] = digest
        if doc is None:
            continue
        config = region_from_document(doc, errors)
        if config is not None:
            regions[config.code] = config
    return regions, len(paths)


def load_pack(directory: Path | str | None = None) -> RulePack:
    """A checked rule pack, or RulePackError listing every error of the directory."""
    check = read_pack(directory)
    if check.pack is None:
        raise RulePackError(check.errors)
    return check.pack


def _read_pack_file(
    root: Path, errors: list[RuleFileError], hashes: dict[str, str]
) -> tuple[ExampleDefaults | None, PackMeta | None]:
    path = root / PACK_FILE
    if not os.path.lexists(path):
        errors.append(
            RuleFileError(
                Position(_display(path), 1, 1), "the pack file is missing (name and example_defaults)"
            )
        )
        return None, None
    doc, digest = _read(path, errors)
    hashes[PACK_FILE] = digest
    if doc is None:
        return None, None
    data = doc.data
    if not isinstance(data, YMap):
        errors.append(
            RuleFileError(
                Position(doc.path, 1, 1), "pack.yaml must be a mapping with name and example_defaults"
            )
        )
        return None, None
    meta = validate(PackMeta, data, root=Position(doc.path, 1, 1), errors=errors)
    if meta is None:
        return None, None
    # The examples keep the positions of the YAML they were written in.
    block = data["example_defaults"]
    parts = {key: block.get(key) if isinstance(block.get(key), YMap) else YMap() for key in DEFAULTS_KEYS}
    return ExampleDefaults(**parts), meta


def _rules_from_document(
    doc: YamlDocument,
    digest: str,
    families: dict[str, str],
    declared_ids: set[str],
    errors: list[RuleFileError],
) -> list[Rule]:
    """The rules of one rule file; `declared_ids` collects every id written, even of rules that did not parse."""
    data = doc.data
    if not isinstance(data, YMap) or "rules" not in data:
        errors.append(
            RuleFileError(Position(doc.path, 1, 1), "a rule file must be a mapping with a `rules:` list")
        )
        return []
    for key in data:
        if key not in RULE_FILE_KEYS:
            errors.append(
                RuleFileError(
                    data.key_at(key), f"unknown top-level key `{key}`", did_you_mean(str(key), RULE_FILE_KEYS)
                )
            )
    declared = data.get("families") or YMap()
    if not isinstance(declared, YMap):
        errors.append(
            RuleFileError(
                data.value_at("families"), "`families` must map a new family name to its Chinese label"
            )
        )
    else:
        for name, label in declared.items():
            if not isinstance(name, str) or not name.isidentifier():
                errors.append(
                    RuleFileError(
                        declared.key_at(name),
                        f"family name `{name}` must be a plain identifier such as ghost_bed",
                    )
                )
            else:
                families[name] = str(label)
    items = data["rules"]
    if not isinstance(items, YList):
        errors.append(RuleFileError(data.value_at("rules"), "`rules` must be a list of rules"))
        return []
    local_families = dict(families)
    result = []
    for item in items:
        if isinstance(item, YMap) and item.get("id") is not None:
            declared_ids.add(str(item["id"]))
        rule = Rule.from_dict(item, doc=doc, file_hash=digest, families=local_families, errors=errors)
        if rule is not None:
            result.append(rule)
    return result
