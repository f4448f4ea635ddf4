"""Named code lists shared by rules (`rules/lists/*.yaml`), e.g. chemotherapy diagnoses or CC/MCC evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

from drgaudit.contract import ICD9_RE, ICD10_RE
from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.yamlsource import Position, YamlDocument, YList, YMap

LIST_KINDS = ("dx", "px", "text")
MATCH_MODES = ("exact", "prefix")
MATCHED_VALUES = 1 << 16  # most values a prefix list remembers the answer for
_LIST_KEYS = ("name", "title", "description", "kind", "match", "items", "reference")


@dataclass(frozen=True)
class NamedList:
    """A named list of codes or values; `match: prefix` makes each item a code prefix (Z51.1 matches Z51.100x004)."""

    name: str
    title: str
    kind: str
    match: str
    items: tuple[str, ...]
    position: Position
    path: str

    exact: frozenset[str] = field(init=False, repr=False, compare=False)
    # A prefix list's answers by value (bounded: emptied when full), so that each code is matched
    # against the prefixes once.
    _matched: dict[str, bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "exact", frozenset(self.items))
        object.__setattr__(self, "_matched", {})

    def contains(self, value: str | None) -> bool:
        """Whether a value is in the list (by prefix when the list matches prefixes)."""
        if value is None:
            return False
        if self.match == "exact":
            return value in self.exact
        matched = self._matched.get(value)
        if matched is None:
            matched = value.startswith(self.items)
            if len(self._matched) >= MATCHED_VALUES:
                self._matched.clear()
            self._matched[value] = matched
        return matched


def _item_ok(kind: str, match: str, item: str) -> bool:
    if kind == "text":
        return True
    pattern = ICD10_RE if kind == "dx" else ICD9_RE
    if match == "exact":
        return bool(pattern.match(item))
    # A prefix must be the start of some well-formed code: check it with a neutral completion.
    head = item.rstrip(".")
    return bool(head) and any(
        pattern.match(head + tail) for tail in ("", "0", "00", ".0", ".000", ".x00", "00x001")
    )


def list_from_document(doc: YamlDocument, errors: list[RuleFileError]) -> NamedList | None:
    """Build one NamedList from a parsed list file, appending every problem to `errors`."""
    data = doc.data
    if not isinstance(data, YMap):
        pos = data.position if isinstance(data, (YMap, YList)) else Position(doc.path, 1, 1)
        errors.append(RuleFileError(pos, "a list file must be a mapping with name, kind, match and items"))
        return None
    before = len(errors)
    for key in data:
        if key not in _LIST_KEYS:
            errors.append(
                RuleFileError(
                    data.key_at(key),
                    f"unknown key `{key}` in a list file",
                    f"allowed: {', '.join(_LIST_KEYS)}",
                )
            )
    name = data.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        errors.append(
            RuleFileError(
                data.value_at("name"), "list `name` must be a plain identifier such as chemo_radiotherapy"
            )
        )
    kind = data.get("kind", "dx")
    if kind not in LIST_KINDS:
        errors.append(
            RuleFileError(
                data.value_at("kind"), f"unknown list kind `{kind}`", f"one of {', '.join(LIST_KINDS)}"
            )
        )
    match = data.get("match", "exact")
    if match not in MATCH_MODES:
        errors.append(
            RuleFileError(
                data.value_at("match"), f"unknown match mode `{match}`", f"one of {', '.join(MATCH_MODES)}"
            )
        )
    items = data.get("items")
    values: list[str] = []
    if not isinstance(items, YList) or not items:
        errors.append(RuleFileError(data.value_at("items"), "`items` must be a non-empty list"))
    else:
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            pos = items.item_at(index)
            if isinstance(item, YMap):
                code = item.get("code")
                pos = item.value_at("code")
            else:
                code = item
            if not isinstance(code, str) or not code:
                errors.append(
                    RuleFileError(
                        pos,
                        "a list item must be a code written as text (quote it if YAML reads it as a number)",
                    )
                )
                continue
            if kind in ("dx", "px") and match in MATCH_MODES and not _item_ok(kind, match, code):
                what = "ICD-10 医保版 diagnosis" if kind == "dx" else "ICD-9-CM-3 procedure"
                errors.append(
                    RuleFileError(
                        pos,
                        f"`{code}` is not a well-formed {what} {'prefix' if match == 'prefix' else 'code'}",
                    )
                )
            if code in seen:
                errors.append(
                    RuleFileError(
                        pos, f"`{code}` is listed twice (first at line {items.item_at(seen[code]).line})"
                    )
                )
            seen.setdefault(code, index)
            values.append(code)
    if len(errors) > before or not isinstance(name, str):
        return None
    return NamedList(
        name=name,
        title=str(data.get("title") or name),
        kind=kind,
        match=match,
        items=tuple(values),
        position=data.position,
        path=doc.path,
    )
