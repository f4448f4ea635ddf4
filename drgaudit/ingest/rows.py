"""Turning raw input rows into canonical records, or into the list of everything wrong with each row.

The fields, their types and code shapes come from `drgaudit.contract`. Conversion works a column at a
time over a chunk of rows: each field has a fast path that checks and converts a whole column in a few
C-level passes (one regular expression over the joined column, `map(float, …)`, …) and falls back to the
per-value converter for the column when anything in it is unusual (blanks, whitespace, numbers from
JSON, bad values). Both paths give the same result; the per-value one also says what is wrong.

The canonical record is the plain dict of docs/ARCHITECTURE.md "Canonical records". Checks across
the fields of a claim: discharge not before admission, a group code for DRG/DIP claims, and the fee
categories not adding up to more than the total cost beyond `fee_sum_limit`.
"""

from __future__ import annotations

import hashlib
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from drgaudit.contract import (
    EARLIEST_DATE,
    FEE_FIELDS,
    FIELDS_BY_KIND,
    GROUPED_SCHEMES,
    ICD9_RE,
    ICD10_RE,
    ID_CHARACTERS,
    ID_PUNCTUATION,
    ID_RE,
    LATEST_DATE,
    LIST_SEPARATOR,
    MAX_ID_CHARS,
    MAX_LIST_ITEMS,
    MAX_TEXT_CHARS,
    REGION_RE,
    SCIENTIFIC_RE,
    Field,
)
from drgaudit.errors import RowError
from drgaudit.i18n import _
from drgaudit.ingest.readers import CELL_PROBLEMS, RAW_LINE, ROW_PROBLEM, ColumnBlock
from drgaudit.ingest.xlsxrows import EXCEL_EPOCH
from drgaudit.labels import input_labels

# Data-quality tolerance, not policy: the fee_* categories of a claim may add up to at most
# total_cost × (1 + FEE_SUM_TOLERANCE_RATIO) + FEE_SUM_TOLERANCE_YUAN, which absorbs rounding in
# hospitals' exports. Documented in casebook/README.md.
FEE_SUM_TOLERANCE_RATIO = 0.01
FEE_SUM_TOLERANCE_YUAN = 1.0

# Decimal fields that are yuan amounts: rounded to 2 places on input and stored as Numeric(14, 2).
MONEY_FIELDS = frozenset(
    {"total_cost", "fund_paid", "self_pay", "self_expense", "outside_purchase", "avg_cost", *FEE_FIELDS}
)

_CODE_SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    "dx": (ICD10_RE, "ICD-10 code"),
    "px": (ICD9_RE, "ICD-9-CM-3 code"),
}
_TRUE = frozenset({"1", "true", "t", "yes", "y", "是"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "否"})
_ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Characters no value may hold: C0 and C1 controls (tab, CR and LF included), DEL, line and paragraph
# separators, bidirectional overrides and isolates (they reorder what a reviewer sees), byte-order
# marks, and lone surrogates (from JSON "\\ud800" escapes; not storable as UTF-8).
_OTHER_FORBIDDEN = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff"
_FORBIDDEN_RE = re.compile("[\x00-\x1f" + _OTHER_FORBIDDEN + "]")
# The same in a column joined by newlines (the joins themselves are allowed).
_FORBIDDEN_IN_LINES = re.compile("[\x00-\x09\x0b-\x1f" + _OTHER_FORBIDDEN + "]")
# Plain numbers as text: ASCII digits only (no `1_000`, no full-width digits, no thousands commas).
_WHOLE_TEXT = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[Ee][+-]?[0-9]+)?")
# Digits beyond which a whole number is refused before it is converted (int() of thousands of digits
# is slow and refused by Python itself past 4,300).
_MAX_DIGITS = 18
# Dates as people type them in Excel, read when unambiguous: the year first (2025/1/28, 2025-1-28,
# 2025.1.28, 2025年1月28日, optionally with a time), or eight digits (20250128).
_YEAR_FIRST = re.compile(
    r"([0-9]{4})([-/.年])([0-9]{1,2})([-/.月])([0-9]{1,2})日?(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]*)?)?)?"
)
_EIGHT_DIGITS = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_DAY_MONTH = re.compile(r"[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4}(?:[ T].*)?")
DATE_FORMATS = "YYYY-MM-DD; also read: YYYY/M/D, YYYYMMDD, YYYY年M月D日"


def _date_formats() -> str:
    """DATE_FORMATS in the user's language."""
    return _("YYYY-MM-DD; also read: YYYY/M/D, YYYYMMDD, YYYY年M月D日")


# Excel's serial dates are correct from 1900-03-01, serial 61, in the 1900 date system (`EXCEL_EPOCH`).
_EXCEL_FIRST = 61

Record = dict[str, Any]
Converter = Callable[[Any], Any]
Column = Sequence[Any]  # values of one field: a list, or a tuple of the transposed raw rows (read only)
ColumnErrors = dict[int, str]


class _Invalid(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def fee_sum_limit(total_cost: float) -> float:
    """The most the fee_* categories of a claim with this total cost may add up to."""
    return total_cost * (1 + FEE_SUM_TOLERANCE_RATIO) + FEE_SUM_TOLERANCE_YUAN


# -- per-value converters: raw value -> canonical value, None when blank, _Invalid when wrong ---------


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text) if isinstance(value, str) else text


def _scalar_text(value: Any) -> str:
    """The text of a non-string raw value (numbers from JSON or Excel cells)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, date):
            raise _Invalid(_("{value} is a date, not text").format(value=_show(value)))
        if isinstance(value, bool):  # a TRUE/FALSE cell of a spreadsheet, true/false in JSON
            raise _Invalid(
                _("{value} is a true/false value, not text or a number").format(value=_show(value))
            )
        raise _Invalid(_("{value} is not a single value").format(value=_show(value)))
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        if not math.isfinite(value):  # JSON's NaN and Infinity, or a number beyond a float (1e400)
            raise _Invalid(_("{value} is not text or a finite number").format(value=_show(value)))
    return str(value)


def _loose(name: str) -> str:
    """A field name as a person might write it, in any case, with spaces or hyphens: `Claim ID`."""
    return re.sub(r"[\s_\-]+", "_", name.strip().lower())


def _character(ch: str) -> str:
    """One character named for a person: `'Ｐ' (U+FF30)`, or just the code point when invisible."""
    shown = f"{ch!r} " if ch.isprintable() and not ch.isspace() else ""
    return f"{shown}(U+{ord(ch):04X})"


def _forbidden(text: str) -> str | None:
    """Why a text cannot be stored as it is: a control or invisible formatting character, or None."""
    found = _FORBIDDEN_RE.search(text)
    if found is None:
        return None
    ch = found.group()
    if ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        kind = _("a bidirectional control character")
    elif "\ud800" <= ch <= "\udfff":
        kind = _("an unpaired surrogate")
    else:
        kind = _("a control character")
    return _("holds {kind} {character} at position {position}").format(
        kind=kind, character=_character(ch), position=found.start() + 1
    )


def _too_long(text: str, limit: int) -> str | None:
    if len(text) > limit:
        return _("is {length:,} characters long; at most {limit} are allowed").format(
            length=len(text), limit=limit
        )
    return None


def _text(value: Any) -> str | None:
    if type(value) is str:
        text = value.strip()
        if not text:
            return None
    else:
        text = _scalar_text(value)
    problem = _forbidden(text) or _too_long(text, MAX_TEXT_CHARS)
    if problem:
        raise _Invalid(_("{value} {problem}").format(value=_show(text), problem=problem))
    return text


def _id_problem(text: str) -> str:
    """Why `text` is not an id (it failed ID_RE)."""
    forbidden = _forbidden(text)
    if forbidden:
        return forbidden
    for ch in text:
        if ID_RE.match(ch):
            continue
        if ch in "\"'`":
            return _("holds a quote {character}").format(character=_character(ch))
        if ch == "\\":
            return _("holds a backslash")
        if ch.isspace():
            return _("holds a blank {character}").format(character=_character(ch))
        if unicodedata.category(ch) == "Nd":
            return _("holds a non-ASCII digit {character}; write 0-9").format(character=_character(ch))
        return _("holds {character}; an id holds only ASCII letters, digits and {punctuation}").format(
            character=_character(ch), punctuation=" ".join(ID_PUNCTUATION)
        )
    return _("is not an id")  # pragma: no cover - ID_RE refused it for one of the reasons above


def _id(value: Any) -> str | None:
    if type(value) is str:
        text = value.strip()
        if not text:
            return None
    elif isinstance(value, float) and value.is_integer() and abs(value) >= 2**53:
        # Excel and JSON hold numbers as doubles: past 2**53 the last digits are already lost.
        raise _Invalid(
            _("{value} is a number too long to be an exact id; store the column as text").format(
                value=f"{value:.6g}"
            )
        )
    else:
        text = _scalar_text(value)
    problem = _too_long(text, MAX_ID_CHARS)
    if problem is None and ID_RE.match(text) is None:
        problem = _id_problem(text)
    if problem is None and SCIENTIFIC_RE.match(text):
        problem = _(
            "is a number in scientific notation, its digits lost (Excel does this); store the column as text"
        )
    if problem:
        raise _Invalid(_("{value} {problem}").format(value=_show(text), problem=problem))
    return text


def _number(value: float) -> str:
    if isinstance(value, int):
        if abs(value) < 10**_MAX_DIGITS:
            return f"{value:,}"
        return _("a number of about {digits:,} digits").format(
            digits=int(value.bit_length() * math.log10(2)) + 1
        )
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else f"{value:.6g}"


def _bounded(number: float, spec: Field) -> float:
    minimum, maximum = spec.minimum, spec.maximum
    if minimum is not None and number < minimum:
        raise _Invalid(
            _("{value} is negative").format(value=f"{number:g}")
            if minimum == 0
            else _("{value} is below {minimum}").format(value=_number(number), minimum=_number(minimum))
        )
    if maximum is not None and number > maximum:
        raise _Invalid(_above(_number(number), maximum))
    return number


def _number_hint(text: str) -> str:
    if "_" in text:
        return _(" (no _ between digits)")
    if any(unicodedata.category(ch) == "Nd" and not ch.isascii() for ch in text):
        return _(" (non-ASCII digits; write 0-9)")
    if _GROUPED_DIGITS.fullmatch(text):
        return _(" (no thousands separators: write {number})").format(number=text.replace(",", ""))
    unit = _WITH_UNIT.fullmatch(text)
    if unit and unit.group("number") != text:
        return _(" (no currency sign or unit: write {number})").format(number=unit.group("number"))
    return ""


def _above(value: str, maximum: float) -> str:
    return _("{value} is above the limit of {maximum}").format(value=value, maximum=_number(maximum))


# What spreadsheets and reports show of an amount: digits in groups of three, a currency sign or 元.
_GROUPED_DIGITS = re.compile(r"[-+]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")
_WITH_UNIT = re.compile(
    r"(?:[¥￥$]|RMB|CNY)?\s*(?P<number>[-+]?[0-9]+(?:\.[0-9]*)?)\s*(?:元|RMB|CNY)?", re.IGNORECASE
)


def _int_converter(spec: Field) -> Converter:
    def convert(value: Any) -> int | None:
        if type(value) is str:
            text = value.strip()
            if not text:
                return None
            if _WHOLE_TEXT.fullmatch(text) is None:
                raise _Invalid(
                    _("{value} is not a whole number{hint}").format(
                        value=_show(text), hint=_number_hint(text)
                    )
                )
            digits = text.partition(".")[0]
            if len(digits.lstrip("+-").lstrip("0")) > _MAX_DIGITS:
                raise _Invalid(_above(_show(text), spec.maximum or 0))
            number = int(digits)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            if abs(value) >= 2**63:
                raise _Invalid(_above(f"{value:.6g}", spec.maximum or 0))
            number = int(value)
        else:
            raise _Invalid(_("{value} is not a whole number{hint}").format(value=_show(value), hint=""))
        return int(_bounded(number, spec))

    return convert


def _decimal_converter(spec: Field) -> Converter:
    money = spec.name in MONEY_FIELDS

    def convert(value: Any) -> float | None:
        if type(value) is str:
            text = value.strip()
            if not text:
                return None
            if _NUMBER_TEXT.fullmatch(text) is None:
                raise _Invalid(
                    _("{value} is not a number{hint}").format(value=_show(text), hint=_number_hint(text))
                )
            number = float(text)
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > 10**_MAX_DIGITS:  # float() of a huge int overflows
                raise _Invalid(_above(_number(value), spec.maximum or 0))
            number = float(value)
        elif isinstance(value, float):
            number = value
        else:
            raise _Invalid(_("{value} is not a number{hint}").format(value=_show(value), hint=""))
        if not math.isfinite(number):
            raise _Invalid(_("{value} is not a finite number").format(value=_show(value)))
        if money:
            number = round(number, 2)
        return _bounded(number, spec)

    return convert


def _date_in_range(day: date, shown: str) -> date:
    if EARLIEST_DATE <= day <= LATEST_DATE:
        return day
    raise _Invalid(
        _("{value} is not between {earliest} and {latest}").format(
            value=shown, earliest=EARLIEST_DATE.isoformat(), latest=LATEST_DATE.isoformat()
        )
    )


def _date_from_text(text: str) -> date:
    if len(text) >= 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
        try:
            if len(text) == 10:
                return _date_in_range(date.fromisoformat(text), text)
            if text[10] in "T ":
                return _date_in_range(datetime.fromisoformat(text).date(), text)
        except ValueError:
            if text[:10].isascii() and _YEAR_FIRST.fullmatch(text) is None:
                raise _Invalid(_("{value} is not a valid date").format(value=_show(text))) from None
    found = _YEAR_FIRST.fullmatch(text) or _EIGHT_DIGITS.fullmatch(text)
    if found is not None:
        groups = found.groups()
        if len(groups) == 5 and (groups[1] != groups[3]) != (groups[1] == "年" and groups[3] == "月"):
            raise _Invalid(_not_a_date(_show(text)))
        year, month, day = int(groups[0]), int(groups[-3 if len(groups) == 5 else 1]), int(groups[-1])
        try:
            return _date_in_range(date(year, month, day), _show(text))
        except ValueError:
            raise _Invalid(_("{value} is not a valid date").format(value=_show(text))) from None
    if _DAY_MONTH.fullmatch(text):
        raise _Invalid(
            _("{value} is not a date: day and month may be either way round; write {formats}").format(
                value=_show(text), formats=_date_formats()
            )
        )
    raise _Invalid(_not_a_date(_show(text)))


def _not_a_date(value: str) -> str:
    return _("{value} is not a date ({formats})").format(value=value, formats=_date_formats())


def _excel_serial(value: float, epoch: date) -> date:
    """A date from an Excel serial number (an XLSX cell holding a date without a date format), counted
    from the workbook's day 0 (`EXCEL_EPOCH`, or `EXCEL_EPOCH_1904` in the 1904 date system)."""
    first = _EXCEL_FIRST if epoch == EXCEL_EPOCH else 0
    if not first <= value < (LATEST_DATE - epoch).days + 1:
        raise _Invalid(
            _(
                "{value} is not a date: as an Excel date number it is not between {earliest} and {latest}"
            ).format(value=_number(value), earliest=EARLIEST_DATE.isoformat(), latest=LATEST_DATE.isoformat())
        )
    return epoch + timedelta(days=int(value))


def _date_converter(excel_epoch: date | None) -> Converter:
    def convert(value: Any) -> date | None:
        if type(value) is str:
            text = value.strip()
            if not text:
                return None
            return _date_from_text(text)
        if isinstance(value, datetime):
            return _date_in_range(value.date(), value.date().isoformat())
        if isinstance(value, date):
            return _date_in_range(value, value.isoformat())
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            if value == int(value) and 10_000_000 <= value <= 99_999_999:
                return _date_from_text(str(int(value)))  # 20250128 typed as a number
            if excel_epoch is not None:
                return _excel_serial(value, excel_epoch)
        raise _Invalid(_not_a_date(_show(value)))

    return convert


def _enum_converter(spec: Field) -> Converter:
    choices = frozenset(spec.choices)
    by_lower = {c.lower(): c for c in spec.choices}
    listed = ", ".join(spec.choices)

    def convert(value: Any) -> str | None:
        text = value.strip() if type(value) is str else _scalar_text(value)
        if text in choices:
            return text
        if not text:
            return None
        found = by_lower.get(text.lower())
        if found is None:
            raise _Invalid(
                _("{value} is not one of {choices}{hint}").format(
                    value=_show(text), choices=listed, hint=_number_hint(text)
                )
            )
        return found

    return convert


def _what(what: str) -> str:
    """The name of a code's shape in the user's language."""
    names = {
        "ICD-10 code": _("ICD-10 code"),
        "ICD-9-CM-3 code": _("ICD-9-CM-3 code"),
        "an ICD-10 code": _("an ICD-10 code"),
        "an ICD-9-CM-3 code": _("an ICD-9-CM-3 code"),
        "a 6-digit region code": _("a 6-digit region code"),
    }
    return names.get(what, what)


def _pattern_converter(pattern: re.Pattern[str], what: str) -> Converter:
    match = pattern.match

    def convert(value: Any) -> str | None:
        text = value.strip() if type(value) is str else _scalar_text(value)
        if not text:
            return None
        if match(text) is None:
            raise _Invalid(
                _("{value} is not {what}{hint}").format(
                    value=_show(text), what=_what(what), hint=_number_hint(text)
                )
            )
        return text

    return convert


def _list_converter(spec: Field) -> Converter:
    pattern, what = _CODE_SHAPES[spec.item or ""]
    match = pattern.match

    def convert(value: Any) -> list[str]:
        if type(value) is str:
            items = [item.strip() for item in value.split(LIST_SEPARATOR)]
        elif isinstance(value, list):
            items = [item.strip() if type(item) is str else _scalar_text(item) for item in value]
        else:
            items = [_scalar_text(value)]
        codes = [item for item in items if item]
        if len(codes) > MAX_LIST_ITEMS:
            raise _Invalid(
                _("{count} codes; at most {limit} are allowed").format(count=len(codes), limit=MAX_LIST_ITEMS)
            )
        bad = [(n, code) for n, code in enumerate(codes, start=1) if match(code) is None]
        if bad:
            if len(bad) == 1:
                n, code = bad[0]
                raise _Invalid(
                    _("item {n} {value} is not an {what}{hint}").format(
                        n=n, value=_show(code), what=_what(what), hint=_number_hint(code)
                    )
                )
            listed = ", ".join(f"{n} {_show(code)}" for n, code in bad)
            raise _Invalid(_("items {listed} are not {what}s").format(listed=listed, what=_what(what)))
        return codes

    return convert


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if type(value) is str else _scalar_text(value)
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Invalid(_("{value} is not yes/no (1/0, true/false)").format(value=_show(text)))


def converter_for(spec: Field, *, excel_epoch: date | None = None) -> Converter:
    """The function turning one raw value of a field into its canonical value (None when blank).

    `excel_epoch`: numbers in a date field are Excel serial dates from this day 0 (XLSX cells without a
    date format)."""
    kind = spec.type
    if kind == "id":
        return _id
    if kind == "text":
        return _text
    if kind == "int":
        return _int_converter(spec)
    if kind == "decimal":
        return _decimal_converter(spec)
    if kind == "date":
        return _date_converter(excel_epoch)
    if kind == "bool":
        return _bool
    if kind == "enum":
        return _enum_converter(spec)
    if kind == "region":
        return _pattern_converter(REGION_RE, "a 6-digit region code")
    if kind in _CODE_SHAPES:
        pattern, what = _CODE_SHAPES[kind]
        return _pattern_converter(pattern, f"an {what}")
    if kind == "list":
        return _list_converter(spec)
    raise ValueError(f"field {spec.name}: no converter for type {kind!r}")


# -- column converters: a whole column at once, falling back to the per-value converter -------------


class _Fallback(Exception):
    """The fast path of a column does not apply; convert it value by value."""


def _body(pattern: re.Pattern[str]) -> str:
    return pattern.pattern.removeprefix("^").removesuffix("$")


def _joined(item: str, blank: bool) -> re.Pattern[str]:
    """A pattern for a whole column joined with newlines, each line matching `item` (or blank)."""
    line = f"(?:{item})?" if blank else f"(?:{item})"
    return re.compile(f"{line}(?:\n{line})*")


def _all_str(column: Column) -> list[str]:
    """The column stripped of surrounding blanks, when every value is a string."""
    try:
        return list(map(str.strip, column))
    except TypeError:
        raise _Fallback from None


def _fast_text(spec: Field) -> Callable[[Column], Column]:
    too_long = re.compile(f"(?m)^[^\n]{{{MAX_TEXT_CHARS + 1}}}")

    def fast(column: Column) -> Column:
        values = _all_str(column)
        text = _lines(values)
        if _FORBIDDEN_IN_LINES.search(text) or too_long.search(text):
            raise _Fallback
        return [v or None for v in values]

    return fast


# The bytes an id may hold, and the newline that joins a column.
_ID_BYTES = bytes(sorted(ch for ch in range(128) if re.fullmatch(f"[{ID_CHARACTERS}]", chr(ch)))) + b"\n"


def _ids_shaped(values: Column, text: str) -> bool:
    """Whether every value (the lines of `text`) is blank or an id's characters, at most MAX_ID_CHARS:
    bytes deleted from the joined column and the longest value measured (C passes, several times
    faster than a regular expression over it)."""
    return (
        text.isascii()
        and not text.encode("ascii").translate(None, _ID_BYTES)
        and (not values or max(map(len, values)) <= MAX_ID_CHARS)
    )


def _fast_id(spec: Field) -> Callable[[Column], Column]:
    scientific = re.compile(f"(?m)^{_body(SCIENTIFIC_RE)}$")

    def fast(column: Column) -> Column:
        values = column
        text = _lines(values)
        if not _ids_shaped(values, text):
            values = _all_str(column)  # blanks around the ids?
            text = _lines(values)
            if not _ids_shaped(values, text):
                raise _Fallback
        # A number in scientific notation has an exponent sign after E or e (most columns have none).
        if ("E+" in text or "E-" in text or "e+" in text or "e-" in text) and scientific.search(text):
            raise _Fallback
        return [v or None for v in values]

    return fast


def _distinct(values: Column) -> list[Any]:
    """The different values of a column, any order: a column's shape is checked once per value
    (codes, regions and dates repeat a lot within a chunk)."""
    try:
        return list(set(values))
    except TypeError:  # a list from JSON
        raise _Fallback from None


def _lines(values: Column) -> str:
    """The values joined by newlines; no value may hold a newline itself."""
    try:
        text = "\n".join(values)
    except TypeError:
        raise _Fallback from None
    if text.count("\n") != len(values) - 1:
        raise _Fallback
    return text


def _fast_enum(spec: Field) -> Callable[[Column], Column]:
    allowed = frozenset(spec.choices) | {""}

    def fast(column: Column) -> Column:
        try:
            clean = allowed.issuperset(column)
        except TypeError:  # a list from JSON
            raise _Fallback from None
        values = column if clean else _all_str(column)
        if not clean and not allowed.issuperset(values):
            raise _Fallback
        return [v or None for v in values]

    return fast


def _fast_pattern(pattern: re.Pattern[str]) -> Callable[[Field], Callable[[Column], Column]]:
    def make(spec: Field) -> Callable[[Column], Column]:
        whole = _joined(_body(pattern), blank=True)

        def fast(column: Column) -> Column:
            values = column
            if whole.fullmatch(_lines(_distinct(values))) is None:
                values = _all_str(column)  # blanks around the codes?
                if whole.fullmatch(_lines(_distinct(values))) is None:
                    raise _Fallback
            return [v or None for v in values]

        return fast

    return make


def _fast_list(spec: Field) -> Callable[[Column], Column]:
    pattern, _what = _CODE_SHAPES[spec.item or ""]
    # Every item of every cell on a line of its own: an empty item ("A||B") makes an empty line.
    whole = _joined(_body(pattern), blank=False)
    separator = LIST_SEPARATOR

    def fast(column: Column) -> Column:
        # Each different cell once, then each different item once (every item of every cell is a line
        # of `filled` once `|` is one).
        filled = _lines([v for v in _distinct(column) if v])
        if filled and whole.fullmatch("\n".join(set(filled.replace(separator, "\n").split("\n")))) is None:
            raise _Fallback
        lists = [v.split(separator) if v else [] for v in column]
        if lists and max(map(len, lists)) > MAX_LIST_ITEMS:
            raise _Fallback
        return lists

    return fast


def _fast_date(spec: Field) -> Callable[[Column], Column]:
    whole = _joined(_ISO_DATE, blank=True)
    parse = date.fromisoformat

    earliest, latest = EARLIEST_DATE.isoformat(), LATEST_DATE.isoformat()

    def fast(column: Column) -> Column:
        # Each different date once (a chunk's dates repeat a lot): checked, bounded and parsed.
        distinct = _distinct(column)
        if whole.fullmatch(_lines(distinct)) is None:
            raise _Fallback
        filled = [v for v in distinct if v]
        if filled and (min(filled) < earliest or max(filled) > latest):
            raise _Fallback
        try:
            days: dict[str, date | None] = {v: parse(v) for v in filled}
        except ValueError:  # 2025-02-30
            raise _Fallback from None
        days[""] = None
        return list(map(days.__getitem__, column))

    return fast


def _fast_number(spec: Field) -> Callable[[Column], Column]:
    # Plain non-negative numbers only: ASCII digits (and for decimals dots), no sign, exponent, nan,
    # `_` or blanks around them. Checked by deleting those bytes from the joined column (a C pass,
    # several times faster than a regular expression over it); a value with misplaced dots
    # ("1.2.3", ".") is refused by float() itself. Every text let through reads as the per-value
    # converter reads it (".5" and "5." included).
    if spec.type == "int":
        to_number: Callable[[str], Any] = int
        characters = b"0123456789\n"
    else:
        to_number = float
        characters = b"0123456789.\n"
    # Money with at most two decimals is already what rounding to two places would give; more take
    # the per-value path.
    more_decimals = re.compile(r"\.[0-9]{3}") if spec.name in MONEY_FIELDS else None
    if spec.minimum not in (None, 0):
        raise ValueError(f"field {spec.name}: the fast path knows only a minimum of 0")

    maximum = spec.maximum

    def fast(column: Column) -> Column:
        text = _lines(column)
        if not text.isascii() or text.encode("ascii").translate(None, characters):
            raise _Fallback
        if more_decimals is not None and more_decimals.search(text):
            raise _Fallback
        try:
            if "" in column:
                values = [to_number(v) if v else None for v in column]
                numbers = [v for v in values if v is not None]
            else:
                values = numbers = list(map(to_number, column))
        except ValueError:  # more digits than int() takes
            raise _Fallback from None
        if maximum is not None and numbers and max(numbers) > maximum:
            raise _Fallback
        return values

    return fast


_FAST: dict[str, Callable[[Field], Callable[[Column], Column]]] = {
    "id": _fast_id,
    "text": _fast_text,
    "enum": _fast_enum,
    "region": _fast_pattern(REGION_RE),
    "dx": _fast_pattern(ICD10_RE),
    "px": _fast_pattern(ICD9_RE),
    "list": _fast_list,
    "date": _fast_date,
    "int": _fast_number,
    "decimal": _fast_number,
}


_BLANKS = ("", None)

# A column the fast path refuses is cut in this many parts, and a part it refuses again, down to runs
# of at most this many values, converted value by value (`_FieldPlan._parts`).
PARTS = 16
SMALL_RUN = 64


def _blank_count(raw: Column) -> int:
    """How many values are "" or None (None not looked for when every value is "")."""
    blank = raw.count("")
    return blank if blank == len(raw) else blank + raw.count(None)


@dataclass(frozen=True)
class _FieldPlan:
    name: str
    required: bool
    is_list: bool
    is_date: bool
    convert: Converter
    fast: Callable[[Column], Column] | None

    def column(self, raw: Column) -> tuple[Column, ColumnErrors, bool]:
        """Canonical values of a raw column, the reason of every bad one by position, and whether the
        fast path took the column (then every raw value was a well-formed string)."""
        if self.fast is not None:
            # A column left empty in the whole chunk (common: fee categories, newborn fields) is all
            # missing values, without a pass of the fast path's checks over its blanks.
            count = len(raw)
            if count and raw[0] in _BLANKS and _blank_count(raw) == count:
                return ([[] for _ in range(count)] if self.is_list else [None] * count), {}, True
            try:
                return self.fast(raw), {}, True
            except _Fallback:
                pass
        values: list[Any] = []
        errors: ColumnErrors = {}
        if self.fast is not None:
            self._parts(raw, 0, values, errors)
        else:
            self._each(raw, 0, values, errors)
        return values, errors, False

    def _parts(self, raw: Column, offset: int, values: list[Any], errors: ColumnErrors) -> None:
        """Convert `raw` (the column from `offset` on, which the fast path refused) into `values` and
        `errors`: cut in `PARTS` parts, each part the fast path takes goes that way, the others are cut
        again, down to runs of at most `SMALL_RUN` values converted value by value. A chunk's few bad
        values in a column then cost a pass of the fast path and a few short runs, not the whole column
        value by value. When it refuses more than half of the parts, the bad values are many: the parts
        it refused go value by value (then at most one and a half passes of the fast path more than before)."""
        if len(raw) <= SMALL_RUN:
            self._each(raw, offset, values, errors)
            return
        fast = self.fast
        assert fast is not None  # only a column with a fast path is cut
        size = -(-len(raw) // PARTS)
        parts = [(start, raw[start : start + size]) for start in range(0, len(raw), size)]
        taken: list[Column | None] = []
        for _start, part in parts:
            try:
                # The fast path gives what the per-value converter gives whenever it takes a column
                # (tests/test_ingest_rows.py), so a part it takes reads as the part value by value.
                taken.append(fast(part))
            except _Fallback:
                taken.append(None)
        dense = taken.count(None) * 2 > len(taken)
        for (start, part), converted in zip(parts, taken, strict=True):
            if converted is not None:
                values.extend(converted)
            elif dense:
                self._each(part, offset + start, values, errors)
            else:
                self._parts(part, offset + start, values, errors)

    def _each(self, raw: Column, offset: int, values: list[Any], errors: ColumnErrors) -> None:
        """Convert `raw` (the column from `offset` on) value by value into `values` and `errors`."""
        convert = self.convert
        is_list = self.is_list
        for i, value in enumerate(raw, offset):
            if value is not None and value != "":
                try:
                    values.append(convert(value))
                    continue
                except _Invalid as exc:
                    errors[i] = exc.reason
            values.append([] if is_list else None)


@dataclass
class Chunk:
    """Converted rows of one chunk: canonical values by column, and the errors of the bad rows."""

    fields: tuple[Field, ...]
    rows: list[int]
    columns: dict[str, Column]
    errors: dict[int, list[RowError]] = field(default_factory=dict)
    # The raw columns by name, when the rows came as whole header-ordered rows (CSV, XLSX).
    raw: dict[str, Column] | None = None
    # Raw columns of dates that were all `YYYY-MM-DD` text (or blank): the dates' ISO text already.
    iso_dates: dict[str, Column] = field(default_factory=dict)
    # Raw columns of lists that were all well-formed `|`-separated codes (or blank): the lists' joined
    # text already.
    list_texts: dict[str, Column] = field(default_factory=dict)
    # The rows' CSV lines joined, when they are plain and hold exactly the fields in order (a
    # ColumnBlock of a file whose header is the fields): each line is the row's field texts.
    lines_text: str | None = None

    @property
    def good(self) -> list[int]:
        """Positions (in this chunk) of the rows without errors."""
        errors = self.errors
        if not errors:
            return list(range(len(self.rows)))
        return [i for i in range(len(self.rows)) if i not in errors]

    def column(self, name: str, positions: Sequence[int]) -> Column:
        """The values of one field in the rows at `positions`."""
        return pick(self.columns[name], positions)

    def record(self, position: int) -> Record:
        """The canonical record of the row at `position`."""
        return {f.name: self.columns[f.name][position] for f in self.fields}

    def hashes(self, positions: Sequence[int]) -> list[str]:
        """Content fingerprints (`content_hash`) of the rows at `positions`.

        A fingerprint is blake2b-128 of the row's field texts in field order, joined by the ASCII unit
        separator: the texts as delivered when the file is text (CSV), which is much cheaper than
        formatting values, else the canonical values as a file would hold them (ISO dates, `|`-joined
        lists, numbers, empty when missing). The same text always means the same content; the same
        content can have several texts ("3111.0", "3111.00"), so a differing fingerprint only says
        "compare the values".
        """
        lines: Column | None = None
        if self.lines_text is not None:
            # Each plain line is the field texts joined by commas, which none of them holds.
            every_line = self.lines_text.replace(",", _UNIT_SEPARATOR).split("\n")
            every_line.pop()  # after the last line's end
            lines = pick(every_line, positions)
        elif self.raw is not None:
            blank = [""] * len(self.rows)
            texts = [pick(self.raw.get(f.name) or blank, positions) for f in self.fields]
            try:
                lines = list(map(_UNIT_SEPARATOR.join, zip(*texts, strict=True)))
            except TypeError:  # numbers or dates from an XLSX sheet
                lines = None
        if lines is None:
            texts = [_as_text(f, self.column(f.name, positions)) for f in self.fields]
            lines = list(map(_UNIT_SEPARATOR.join, zip(*texts, strict=True)))
        blake2b = hashlib.blake2b
        return [blake2b(line.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest() for line in lines]


_UNIT_SEPARATOR = "\x1f"


def pick(values: Column, positions: Sequence[int]) -> Column:
    """The values at `positions` (the list itself when the positions are all of them)."""
    return values if len(positions) == len(values) else [values[i] for i in positions]


def _as_text(spec: Field, values: Column) -> Column:
    kind = spec.type
    if kind == "list":
        return [LIST_SEPARATOR.join(v) for v in values]
    if kind == "date":
        return ["" if v is None else v.isoformat() for v in values]
    if kind == "decimal":
        return ["" if v is None else repr(v) for v in values]
    if kind in ("int", "bool"):
        return ["" if v is None else str(int(v)) for v in values]
    if None in values:
        return ["" if v is None else v for v in values]
    return values


class RowConverter:
    """Converts raw rows of one input kind (claims, hospitals, groups) from one file into records."""

    def __init__(self, kind: str, path: str, *, excel_epoch: date | None = None) -> None:
        """`excel_epoch`: numbers in date fields are Excel serial dates counted from this day 0 (rows read
        from XLSX: `EXCEL_EPOCH`, or `EXCEL_EPOCH_1904` for a workbook in the 1904 date system)."""
        self.kind = kind
        self.path = path
        self.fields = FIELDS_BY_KIND[kind]
        self.names = tuple(f.name for f in self.fields)
        self._plan = [
            _FieldPlan(
                f.name,
                f.required,
                f.type == "list",
                f.type == "date",
                converter_for(f, excel_epoch=excel_epoch),
                _FAST[f.type](f) if f.type in _FAST else None,
            )
            for f in self.fields
        ]
        self._check = _check_claims if kind == "claims" else None

    def missing_columns(self, header: list[str]) -> list[str]:
        """Required fields that a file's header lacks."""
        present = set(header)
        return [f.name for f in self.fields if f.required and f.name not in present]

    def header_hint(self, header: Sequence[Any], *, whole: bool = True) -> str:
        """What the header should say instead, as " (...)", or "": for a cell that names a field by its
        Chinese label or in other letters (`结算清单流水号 → claim_id`, `Claim_ID → claim_id`); when no cell
        of a `whole` header (not only a file's unknown names) names a field, that the first row must hold
        the field names (a title row above the header?)."""
        by_label = {text: name for name, text in input_labels(self.kind).items() if name in self.names}
        by_name = {_loose(name): name for name in self.names}
        cells = [cell.strip() for cell in header if isinstance(cell, str) and cell.strip()]
        renames = {}
        for cell in cells:
            name = by_label.get(cell) or by_name.get(_loose(cell))
            if name is not None and name != cell and name not in header:
                renames[cell] = name
        if renames:
            shown = ", ".join(f"{cell} → {name}" for cell, name in list(renames.items())[:4])
            more = _(" and {n} more").format(n=len(renames) - 4) if len(renames) > 4 else ""
            return _(" (write the field names of the data contract: {names})").format(names=shown + more)
        if whole and not set(cells) & set(self.names):
            first = _show(cells[0]) if cells else _("nothing")
            example = ", ".join(self.names[:3])
            return _(
                " (the first row must hold the field names, such as {example}; it holds {first}:"
                " delete any title rows above the header)"
            ).format(example=example, first=first)
        return ""

    def unknown_columns(self, columns: Sequence[str] | set[str]) -> list[str]:
        """Columns of a file that are not fields of this kind (ignored on import)."""
        known = set(self.names)
        return [c for c in columns if isinstance(c, str) and c and c not in known]

    def convert(
        self, rows: ColumnBlock | Sequence[tuple[int, Any]], header: Sequence[str] | None = None
    ) -> Chunk:
        """Convert a chunk of `(row_number, raw row)`; every error of every row is collected.

        A raw row is a dict, or (with the file's `header`) the sequence of its values in header
        order, as `RowSource.iter_raw` gives them; a chunk of such sequences is converted column by
        column straight from them, and a `ColumnBlock` (`RowSource.iter_blocks`) from its columns.
        """
        # Rows that do not fit the header (dicts) of a ColumnBlock, by position: their values are in
        # its columns, what they lack None.
        misfits: dict[int, dict[Any, Any]] = {}
        if isinstance(rows, ColumnBlock) and header is not None:
            numbers = rows.numbers
            raws: list[Any] = []
            raw_columns: dict[str, Column] | None = dict(zip(header, rows.columns, strict=True))
            misfits = rows.misfits
        else:
            numbers = [row for row, _raw in rows]
            raws = [raw for _row, raw in rows]
            raw_columns = _transposed(raws, header)
        if raw_columns is None and header is not None:
            raws = [raw if type(raw) is dict else dict(zip(header, raw, strict=True)) for raw in raws]
        # Fingerprints of a chunk with a row that does not fit come from the values, as they do for
        # the dict rows of a chunk read by the csv reader.
        chunk = Chunk(self.fields, numbers, {}, raw=None if misfits else raw_columns)
        if isinstance(rows, ColumnBlock) and rows.text is not None and tuple(header or ()) == self.names:
            chunk.lines_text = rows.text
        found: dict[int, list[tuple[str, str]]] = {}
        missing = _("missing (required)")
        for plan in self._plan:
            raw: Column
            if raw_columns is None:
                raw = list(map(operator.methodcaller("get", plan.name), raws))
            else:
                raw = raw_columns.get(plan.name) or [None] * len(numbers)
            values, errors, fast = plan.column(raw)
            if fast and plan.is_date:
                chunk.iso_dates[plan.name] = raw
            elif fast and plan.is_list:
                chunk.list_texts[plan.name] = raw
            if plan.required and None in values:
                for i in [i for i, v in enumerate(values) if v is None]:
                    errors.setdefault(i, missing)
            for i, reason in errors.items():
                found.setdefault(i, []).append((plan.name, reason))
            chunk.columns[plan.name] = values
        unreadable: set[int] = set()
        if raw_columns is None or misfits:
            for i, raw_row in enumerate(raws) if raw_columns is None else misfits.items():
                cells = raw_row.get(CELL_PROBLEMS)
                if cells:
                    # The cell's own reason, not "missing" or a conversion error of the value it lacks.
                    found[i] = [p for p in found.get(i, ()) if p[0] not in cells] + list(cells.items())
                if ROW_PROBLEM in raw_row:
                    if RAW_LINE in raw_row:  # nothing could be read from the row: only say so
                        unreadable.add(i)
                        found[i] = []
                    found.setdefault(i, []).append(("row", raw_row[ROW_PROBLEM]))
        if self._check is not None:
            for i, problems in self._check(chunk.columns).items():
                if i not in unreadable:
                    # A field already wrong on its own (so missing here) is not reported again.
                    named = {name for name, _reason in found.get(i, ())}
                    found.setdefault(i, []).extend(p for p in problems if p[0] not in named)
        path = self.path
        chunk.errors = {
            i: [RowError(path, numbers[i], name, reason) for name, reason in found[i]] for i in sorted(found)
        }
        return chunk

    def __call__(self, row: int, raw: dict[Any, Any]) -> Record | list[RowError]:
        """The canonical record of one raw row, or every error found in it."""
        chunk = self.convert([(row, raw)])
        return chunk.errors[0] if chunk.errors else chunk.record(0)


def _transposed(raws: list[Any], header: Sequence[str] | None) -> dict[str, Column] | None:
    """The raw columns by name when every row is the sequence of the header's values."""
    if header is None or not raws or dict in set(map(type, raws)):
        return None
    return dict(zip(header, zip(*raws, strict=True), strict=True))


def _check_claims(columns: dict[str, Column]) -> dict[int, list[tuple[str, str]]]:
    """Checks across the fields of each claim, by row position (C-level passes when all is well)."""
    found: dict[int, list[tuple[str, str]]] = {}
    admits, discharges = columns["admit_date"], columns["discharge_date"]
    try:
        dates_ok = all(map(operator.le, admits, discharges))
    except TypeError:  # a missing date
        dates_ok = False
    if not dates_ok:
        for i, (admit, discharge) in enumerate(zip(admits, discharges, strict=True)):
            if admit is not None and discharge is not None and discharge < admit:
                found.setdefault(i, []).append(
                    (
                        "discharge_date",
                        _("{discharge} is before admit_date {admit}").format(
                            discharge=discharge, admit=admit
                        ),
                    )
                )
    groups = columns["group_code"]
    if None in groups:
        for i, (scheme, group) in enumerate(zip(columns["payment_scheme"], groups, strict=True)):
            if group is None and scheme in GROUPED_SCHEMES:
                found.setdefault(i, []).append(
                    ("group_code", _("missing (required for {scheme} claims)").format(scheme=scheme))
                )
    totals = columns["total_cost"]
    fee_columns = [
        column
        for column in map(columns.__getitem__, FEE_FIELDS)
        if column and (column[0] is not None or column.count(None) != len(column))
    ]
    if not fee_columns:
        return found
    if None in totals or any(None in column for column in fee_columns):
        spent = [sum(filter(None, fees)) for fees in zip(*fee_columns, strict=True)]
    else:
        spent = list(map(sum, zip(*fee_columns, strict=True)))
        if all(map(operator.le, spent, map(fee_sum_limit, totals))):
            return found
    for i, (total, fees) in enumerate(zip(totals, spent, strict=True)):
        if total is not None and fees > fee_sum_limit(total):
            found.setdefault(i, []).append(
                (
                    "total_cost",
                    _("{total} is below the sum of the fee_* categories, {fees}").format(
                        total=f"{total:.2f}", fees=f"{fees:.2f}"
                    ),
                )
            )
    return found
