"""Text for a terminal, shared by the CLI and the demo's report: display width (a Chinese character takes two
columns), padding to a width, and coded values by their Chinese names when messages are in Chinese."""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Mapping
from typing import Any

from drgaudit.i18n import language


def width(text: str) -> int:
    """Columns `text` takes in a terminal: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, size: int, align: str = "<") -> str:
    """`text` padded with spaces to `size` terminal columns (`width`), on the right or (">") the left."""
    gap = " " * max(0, size - width(text))
    return gap + text if align == ">" else text + gap


def chinese() -> bool:
    """Whether messages are printed in Chinese (`LANG=zh_CN.UTF-8`): then a table names coded values."""
    return language().startswith("zh")


def coded(field: str, value: Any) -> str:
    """A coded value of `field` (a key of `drgaudit.labels.VALUE_LABELS`) as a table shows it: its Chinese
    name when messages are in Chinese, else the code; None as "-"."""
    if value is None:
        return "-"
    code = value.value if isinstance(value, enum.Enum) else value
    if not chinese():
        return str(code)
    from drgaudit.labels import value_label  # only when a table names values (the CLI starts quickly)

    return value_label(field, code)


def shown_family(code: str, declared: Mapping[str, str] | None = None) -> str:
    """A violation family as a table names it: in Chinese by its name (`labels.family_name`, with the names
    rule files declare for families of their own in `declared`), else by its code."""
    if not chinese():
        return code
    from drgaudit.labels import family_name

    return family_name(code, declared)
