"""Fuzz the importer: mutate valid claims files (CSV, JSONL, XLSX) at random, import and screen them.

    python bench/fuzz.py                         # 2,000 tries, seed 1, SQLite in memory
    python bench/fuzz.py --tries 500 --seed 7 --formats csv,jsonl
    python bench/fuzz.py --db postgresql+psycopg://user:pw@127.0.0.1/fuzz --tries 200
    python bench/fuzz.py --findings findings.jsonl   # every try that went wrong, to reproduce it

Every try writes a small file of valid claims in one format, applies one to three mutations from a
catalogue, imports it with `drgaudit.casebook.ingest.import_file` and screens whatever was accepted with
the bundled rules (the real engine, one patient at a time, as `screen --batch` does). Each mutation
knows what must come of it, which is how a result is judged:

- *bad* mutations (an id with a quote or a control character, full-width digits in a code, `1_000`,
  `1e400`, a value past its bound, a date in no readable form, a short or long row, a key given twice,
  a cell too long, a lone surrogate, …) must reject their row, naming the field (or `row`), or refuse
  the whole file (bytes that do not decode, a broken header) with a clear message;
- *neutral* mutations (blanks around values, `2025/1/5` for `2025-01-05`, lower-case enums, a BOM,
  blank lines, rows in another order, an Excel serial date) must be accepted with the same values;
- *havoc* mutations (random bytes flipped, inserted or cut) have no oracle: anything but a traceback.

It prints tries, clean rejections (every bad mutation refused as it should be), tracebacks (an error
that is not one of drgaudit's own, at import or screening), silent acceptances (a bad value stored, or
a neutral one stored differently), and the rest. Exit code 1 when there is any traceback or silent
acceptance. The test suite runs a shorter fuzz (`tests/test_fuzz.py`).
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import json
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session  # noqa: E402

from drgaudit.casebook import queries  # noqa: E402
from drgaudit.casebook.db import make_engine  # noqa: E402
from drgaudit.casebook.ingest import ImportReport, import_file  # noqa: E402
from drgaudit.contract import CLAIM_FIELDS  # noqa: E402
from drgaudit.engine.codes import CodeTables, resolve_codes_dir  # noqa: E402
from drgaudit.engine.loader import bundled_rules_dir  # noqa: E402
from drgaudit.engine.parallel import Partition, ScreenSetup, screen_chunk  # noqa: E402
from drgaudit.errors import DrgauditError  # noqa: E402

HEADER = [f.name for f in CLAIM_FIELDS]
REGIONS = ("510100", "510300", "510700", "511300")
DX = ("J18.900", "I21.000", "I10.x05", "E11.900", "K80.100", "N18.900x012", "A41.900", "J96.900x001")
PX = ("96.7101", "39.9500", "36.0601", "88.5000")
GROUPS = (("ES35", 0.8, 9500.0), ("FR13", 1.5, 12000.0), ("FM19", 2.0, 30000.0), ("RE15", 0.9, 8000.0))
ROWS = 12
FORMATS = ("csv", "jsonl", "xlsx")


# -- valid claims ----------------------------------------------------------------------------------------


def base_rows(rnd: random.Random, tag: str) -> list[dict[str, str]]:
    """ROWS valid claims as text (ids unique to this try), a few patients with several stays."""
    rows = []
    for n in range(ROWS):
        admit = date(2025, 1, 1) + timedelta(days=rnd.randrange(300))
        stay = rnd.choice((0, 1, 3, 8, 20, 61))
        code, _weight, avg = rnd.choice(GROUPS)
        total = round(avg * rnd.choice((0.2, 0.8, 1.0, 2.5, 3.5, 6.0)), 2)
        scheme = rnd.choice(("DRG", "DRG", "DIP", "FFS", "PER_DIEM"))
        rows.append(
            {
                "claim_id": f"{tag}-C{n:02d}", "patient_id": f"{tag}-P{n % 4}", "gender": rnd.choice("12"),
                "age": str(rnd.randrange(0, 100)), "age_days": "", "newborn_weight_g": "",
                "insured_region": rnd.choice(REGIONS), "treatment_region": rnd.choice(REGIONS),
                "insurance_type": rnd.choice(("employee", "resident")), "hospital_id": f"H{rnd.randrange(4)}",
                "dept_code": rnd.choice(("", "心内科", "D01")), "admit_date": admit.isoformat(),
                "discharge_date": (admit + timedelta(days=stay)).isoformat(), "admission_route": rnd.choice("123"),
                "discharge_mode": rnd.choice("1125"), "readmit_plan_31d": rnd.choice("12"),
                "principal_dx": rnd.choice(DX), "secondary_dx": "|".join(rnd.sample(DX, rnd.randrange(3))),
                "procedures": "|".join(rnd.sample(PX, rnd.randrange(2))), "icu_hours": rnd.choice(("", "0", "30")),
                "ventilator_hours": "", "payment_scheme": scheme, "group_code": code if scheme in ("DRG", "DIP") else "",
                "total_cost": f"{total:.2f}", "fund_paid": f"{total * 0.6:.2f}", "self_pay": f"{total * 0.2:.2f}",
                "self_expense": f"{total * 0.1:.2f}", "outside_purchase": "", "fee_drug": f"{total * 0.3:.2f}",
                "fee_material": "", "fee_lab": f"{total * 0.2:.2f}", "fee_exam": "", "fee_treatment": "",
                "fee_surgery": "", "fee_nursing": "", "fee_bed": f"{min(stay * 40, total * 0.3):.2f}", "fee_other": "",
            }
        )  # fmt: skip
    return rows


def reference_files(folder: Path) -> tuple[Path, Path]:
    hospitals = folder / "hospitals.csv"
    with open(hospitals, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["hospital_id", "name", "region", "level", "designated_on", "regional_center"])
        for i in range(4):
            w.writerow([f"H{i}", f"测试医院{i}", REGIONS[i], str(1 + i % 3), "2012-01-01", "0"])
    groups = folder / "groups.csv"
    with open(groups, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["region", "scheme", "group_code", "name", "weight", "avg_cost", "avg_los"])
        for region in REGIONS:
            for scheme in ("DRG", "DIP"):
                for code, weight, avg in GROUPS:
                    w.writerow([region, scheme, code, code, weight, avg, 8])
    return hospitals, groups


# -- mutations -------------------------------------------------------------------------------------------


@dataclass
class Expect:
    """What must come of a mutation: `reject` a row (naming one of `fields`), `accept` a row with
    `values`, `refuse` the file (its message containing `message`), or nothing known (`havoc`)."""

    kind: str
    row: int | None = None
    fields: frozenset[str] = frozenset()
    values: dict[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass
class Case:
    """One try: the rows (values may be typed for JSONL/XLSX), how to write them, and what is expected."""

    format: str
    rows: list[dict[str, Any]]
    names: list[str]
    expects: list[Expect] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    # Byte-level edits of the written file (CSV, JSONL), applied in order.
    edits: list[Callable[[bytes], bytes]] = field(default_factory=list)


HOSTILE_ID_CHARS = ('"', "'", "\\", "\n", "\x00", "\x1b", "\x7f", "\u202e", " ", "１", "病", "\ud800")
BAD_NUMBERS = ("1_000", "１２", "1e400", "nan", "inf", "-5", "9" * 30, "abc", "1,000", "0x10", "1e5e5")
BAD_DATES = ("1/28/2025", "2025-02-30", "1899-12-31", "2100-01-01", "yesterday", "2025/13/01", "2025-1/5")
TEXT_SAFE_FOR_XLSX = ('"', "'", "\\", " ", "１", "病")  # openpyxl cannot write control characters


def _iso(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _pick_row(rnd: random.Random, case: Case) -> int:
    return rnd.randrange(len(case.rows))


def m_hostile_id(rnd: random.Random, case: Case) -> None:
    i, name = _pick_row(rnd, case), rnd.choice(("claim_id", "patient_id", "hospital_id"))
    chars = TEXT_SAFE_FOR_XLSX if case.format == "xlsx" else HOSTILE_ID_CHARS
    if case.format == "csv":
        chars = tuple(c for c in chars if c != "\ud800")
    value = str(case.rows[i][name])
    at = rnd.randrange(1, len(value))  # inside: blanks around an id are only trimmed
    case.rows[i][name] = value[:at] + rnd.choice(chars) + value[at:]
    case.expects.append(Expect("reject", i, frozenset({name})))
    case.applied.append(f"hostile {name}")


def m_scientific_id(rnd: random.Random, case: Case) -> None:
    i = _pick_row(rnd, case)
    name = rnd.choice(("claim_id", "patient_id"))
    case.rows[i][name] = (
        5.10101e19 if case.format in ("xlsx", "jsonl") and rnd.random() < 0.5 else "5.10101E+19"
    )
    case.expects.append(Expect("reject", i, frozenset({name})))
    case.applied.append(f"scientific {name}")


def m_fullwidth_code(rnd: random.Random, case: Case) -> None:
    i, name = (
        _pick_row(rnd, case),
        rnd.choice(("insured_region", "treatment_region", "principal_dx", "gender")),
    )
    value = str(case.rows[i][name])
    case.rows[i][name] = value.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if case.rows[i][name] == value:
        return
    case.expects.append(Expect("reject", i, frozenset({name})))
    case.applied.append(f"full-width {name}")


def m_bad_number(rnd: random.Random, case: Case) -> None:
    i, name = _pick_row(rnd, case), rnd.choice(("age", "total_cost", "icu_hours", "fee_bed", "fund_paid"))
    value = rnd.choice(BAD_NUMBERS + ("151", "1e9") if name != "icu_hours" else BAD_NUMBERS + ("100000",))
    if name == "age" and value == "1e9":
        value = "151"
    if name != "age" and value == "151":
        value = "1e9"
    case.rows[i][name] = value
    fields = {name}
    if name.startswith("fee_") or name == "total_cost":
        fields.add("total_cost")  # a fee over the total is named on the total
    case.expects.append(Expect("reject", i, frozenset(fields)))
    case.applied.append(f"number {name}={value[:12]}")


def m_typed_value(rnd: random.Random, case: Case) -> None:
    """JSON and Excel types where a value does not belong."""
    if case.format == "csv":
        return m_bad_number(rnd, case)
    i = _pick_row(rnd, case)
    name, value = rnd.choice(
        [("age", True), ("age", 10**30), ("age", 1e300), ("total_cost", 1e300), ("total_cost", -1.0),
         ("claim_id", True), ("gender", 3), ("admit_date", 1.5 if case.format == "jsonl" else 99_999_999)]
        + ([("age", [1]), ("secondary_dx", [["I10.x05"]]), ("total_cost", {"a": 1}), ("age", float("nan"))]
           if case.format == "jsonl" else [])
    )  # fmt: skip
    case.rows[i][name] = value
    fields = {name, "discharge_date"} if name == "admit_date" else {name}
    case.expects.append(Expect("reject", i, frozenset(fields)))
    case.applied.append(f"typed {name}={str(value)[:12]}")


def m_bad_date(rnd: random.Random, case: Case) -> None:
    i, name = _pick_row(rnd, case), rnd.choice(("admit_date", "discharge_date"))
    case.rows[i][name] = rnd.choice(BAD_DATES)
    case.expects.append(Expect("reject", i, frozenset({"admit_date", "discharge_date"})))
    case.applied.append(f"date {name}={case.rows[i][name]}")


def m_date_form(rnd: random.Random, case: Case) -> None:
    """Neutral: the same date as Excel or a person writes it."""
    i, name = _pick_row(rnd, case), rnd.choice(("admit_date", "discharge_date"))
    day = _iso(case.rows[i][name])
    if day is None:  # an earlier mutation changed it
        return
    forms: list[Any] = [f"{day.year}/{day.month}/{day.day}", day.strftime("%Y%m%d"),
                        f"{day.year}年{day.month}月{day.day}日", f" {day.isoformat()} ", f"{day.isoformat()} 08:30"]  # fmt: skip
    if case.format == "xlsx":
        forms += [datetime(day.year, day.month, day.day, 9, 15), (day - date(1899, 12, 30)).days]
    case.rows[i][name] = rnd.choice(forms)
    case.expects.append(Expect("accept", i, values={name: day}))
    case.applied.append(f"date form {name}")


def m_blanks_and_case(rnd: random.Random, case: Case) -> None:
    """Neutral: blanks around values, enums in another case."""
    i = _pick_row(rnd, case)
    row = case.rows[i]
    name = rnd.choice(("claim_id", "age", "total_cost", "principal_dx", "payment_scheme", "insurance_type"))
    value = str(row[name])
    expected: Any = value
    try:
        if name == "age":
            expected = int(value)
        elif name == "total_cost":
            expected = float(value)
    except ValueError:  # an earlier mutation made it bad
        return
    if name in ("payment_scheme", "insurance_type") and rnd.random() < 0.5:
        row[name] = value.swapcase()
    else:
        row[name] = f"  {value} "
    case.expects.append(Expect("accept", i, values={name: expected}))
    case.applied.append(f"blanks {name}")


def m_missing_required(rnd: random.Random, case: Case) -> None:
    i = _pick_row(rnd, case)
    names = ["claim_id", "patient_id", "gender", "age", "admit_date", "total_cost", "principal_dx"]
    if case.rows[i]["payment_scheme"] in ("DRG", "DIP"):
        names.append("group_code")
    name = rnd.choice(names)
    case.rows[i][name] = ""
    fields = {name, "discharge_date"} if name == "admit_date" else {name}
    case.expects.append(Expect("reject", i, frozenset(fields)))
    case.applied.append(f"missing {name}")


def m_long_cell(rnd: random.Random, case: Case) -> None:
    i = _pick_row(rnd, case)
    size = rnd.choice((201, 5_000, 40_000 if case.format == "xlsx" else 200_000, 1_200_000))
    if case.format == "xlsx":
        size = min(size, 32_000)
    case.rows[i]["dept_code"] = "科" * size
    case.expects.append(Expect("reject", i, frozenset({"dept_code", "row"})))
    case.applied.append(f"long dept_code {size}")


def m_control_text(rnd: random.Random, case: Case) -> None:
    if case.format == "xlsx":
        return m_hostile_id(rnd, case)
    i = _pick_row(rnd, case)
    case.rows[i]["dept_code"] = (
        "心内" + rnd.choice(("\u202e", "\x00", "\t", "\r", "\x1b[2J", "\u2028")) + "科"
    )
    case.expects.append(Expect("reject", i, frozenset({"dept_code"})))
    case.applied.append("control dept_code")


def m_duplicate_id(rnd: random.Random, case: Case) -> None:
    i, j = rnd.sample(range(len(case.rows)), 2)
    case.rows[j]["claim_id"] = case.rows[i]["claim_id"]
    # Whichever comes later in the file is rejected as a duplicate (judged by its id, see Fuzzer).
    case.expects.append(Expect("duplicate", values={"claim_id": case.rows[i]["claim_id"]}))
    case.applied.append("duplicate claim_id")


def m_dates_reversed(rnd: random.Random, case: Case) -> None:
    i = _pick_row(rnd, case)
    admit = _iso(case.rows[i]["admit_date"])
    if admit is None:  # an earlier mutation changed it
        return
    case.rows[i]["discharge_date"] = (admit - timedelta(days=1 + rnd.randrange(30))).isoformat()
    case.expects.append(Expect("reject", i, frozenset({"discharge_date"})))
    case.applied.append("discharge before admission")


def m_too_many_codes(rnd: random.Random, case: Case) -> None:
    i = _pick_row(rnd, case)
    case.rows[i]["secondary_dx"] = "|".join(["I10.x05"] * 101)
    case.expects.append(Expect("reject", i, frozenset({"secondary_dx"})))
    case.applied.append("101 codes")


def m_reorder(rnd: random.Random, case: Case) -> None:
    """Neutral: rows in another order (every row still accepted as it is)."""
    order = list(range(len(case.rows)))
    rnd.shuffle(order)
    case.rows[:] = [case.rows[k] for k in order]
    for expect in case.expects:
        if expect.row is not None:
            expect.row = order.index(expect.row)
    case.applied.append("reorder")


# Structural edits of the written bytes (CSV, JSONL). Each knows which row it breaks (by index).


def m_short_row(rnd: random.Random, case: Case) -> None:
    """A row cut short: its trailing cells gone (CSV), its line cut (JSONL)."""
    if case.format == "xlsx":
        return m_missing_required(rnd, case)
    i = _pick_row(rnd, case)
    keep = rnd.randrange(1, len(case.names) - 1)
    case.rows[i] = {**case.rows[i], "__cut__": keep}
    case.expects.append(Expect("reject", i, frozenset({"row"})))
    case.applied.append(f"short row ({keep} cells)")


def m_long_row(rnd: random.Random, case: Case) -> None:
    if case.format == "xlsx":
        return m_long_cell(rnd, case)
    i = _pick_row(rnd, case)
    case.rows[i] = {**case.rows[i], "__extra__": ["x", "y"][: 1 + rnd.randrange(2)]}
    if case.format == "jsonl":
        case.applied.append("unknown keys")
        case.expects.append(Expect("accept", i, values={"claim_id": str(case.rows[i]["claim_id"]).strip()}))
        return
    case.expects.append(Expect("reject", i, frozenset({"row"})))
    case.applied.append("extra cells")


def m_repeated_key(rnd: random.Random, case: Case) -> None:
    if case.format != "jsonl":
        return m_duplicate_id(rnd, case)
    i = _pick_row(rnd, case)
    case.rows[i] = {**case.rows[i], "__repeat__": "age"}
    case.expects.append(Expect("reject", i, frozenset({"row"})))
    case.applied.append("key twice")


def m_undecodable(rnd: random.Random, case: Case) -> None:
    if case.format == "xlsx":
        return m_bad_date(rnd, case)

    def edit(data: bytes) -> bytes:
        at = data.index(b"\n") + 1 + rnd.randrange(max(1, len(data) - data.index(b"\n") - 1))
        return data[:at] + b"\xff\xfe\xfa" + data[at:]

    case.edits.append(edit)
    case.expects.append(Expect("refuse", message="bytes that are not|neither UTF-8 nor GB18030"))
    case.applied.append("undecodable bytes")


def m_broken_header(rnd: random.Random, case: Case) -> None:
    name = rnd.choice(("claim_id", "age", "total_cost", "principal_dx"))
    if rnd.random() < 0.5:
        case.names = [n for n in case.names if n != name]
        if case.format == "jsonl":  # no header: every object lacks the key
            case.expects.extend(Expect("reject", k, frozenset({name})) for k in range(len(case.rows)))
        else:
            case.expects.append(Expect("refuse", message="missing required column"))
        case.applied.append(f"header without {name}")
    elif case.format != "jsonl":
        case.names = [*case.names, name]
        case.expects.append(Expect("refuse", message="appears twice in the header"))
        case.applied.append(f"header with {name} twice")


def m_neutral_bytes(rnd: random.Random, case: Case) -> None:
    """Neutral: a BOM, blank lines between rows, CRLF line ends."""
    if case.format == "xlsx":
        return m_date_form(rnd, case)
    choice = rnd.choice(("bom", "blank", "crlf"))
    if choice == "bom":
        case.edits.append(lambda data: codecs.BOM_UTF8 + data)
    elif choice == "blank":
        case.edits.append(lambda data: data.replace(b"\n", b"\n\n", 3))
    else:
        case.edits.append(lambda data: data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    case.applied.append(f"neutral {choice}")


def m_havoc(rnd: random.Random, case: Case) -> None:
    """No oracle: random bytes flipped, inserted or cut."""
    if case.format == "xlsx":
        return m_typed_value(rnd, case)

    def edit(data: bytes) -> bytes:
        data = bytearray(data)
        for _ in range(rnd.randrange(1, 6)):
            at = rnd.randrange(len(data))
            action = rnd.randrange(3)
            if action == 0:
                data[at] = rnd.randrange(256)
            elif action == 1:
                data[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 4)))
            else:
                del data[at : at + rnd.randrange(1, 20)]
        return bytes(data)

    case.edits.append(edit)
    case.expects.append(Expect("havoc"))
    case.applied.append("havoc")


MUTATIONS: list[Callable[[random.Random, Case], None]] = [
    m_hostile_id, m_scientific_id, m_fullwidth_code, m_bad_number, m_typed_value, m_bad_date, m_date_form,
    m_blanks_and_case, m_missing_required, m_long_cell, m_control_text, m_duplicate_id, m_dates_reversed,
    m_too_many_codes, m_reorder, m_short_row, m_long_row, m_repeated_key, m_undecodable, m_broken_header,
    m_neutral_bytes, m_havoc,
]  # fmt: skip


# -- writing the file ------------------------------------------------------------------------------------


def write(case: Case, path: Path) -> None:
    if case.format == "xlsx":
        _write_xlsx(case, path)
    else:
        data = _write_csv(case) if case.format == "csv" else _write_jsonl(case)
        for edit in case.edits:
            data = edit(data)
        path.write_bytes(data)


def _write_csv(case: Case) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(case.names)
    for row in case.rows:
        cells = ["" if row.get(n) is None else str(row.get(n, "")) for n in case.names]
        if "__cut__" in row:
            cells = cells[: row["__cut__"]]
        cells += row.get("__extra__", [])
        writer.writerow(cells)
    return out.getvalue().encode("utf-8", "surrogatepass")


def _json_value(value: Any) -> str:
    if isinstance(value, float) and value != value:
        return "NaN"
    return json.dumps(value, ensure_ascii=True)  # escapes: a lone surrogate becomes "\ud800"


def _write_jsonl(case: Case) -> bytes:
    lines = []
    for row in case.rows:
        pairs = [(n, row[n]) for n in case.names if n in row]
        pairs += [(f"note{k}", v) for k, v in enumerate(row.get("__extra__", []))]
        if "__repeat__" in row:  # a key the object already has (the header mutation may have dropped one)
            repeated = row["__repeat__"] if row["__repeat__"] in case.names else pairs[1][0]
            pairs.append((repeated, "33"))
        text = "{" + ", ".join(f"{json.dumps(k)}: {_json_value(v)}" for k, v in pairs) + "}"
        if "__cut__" in row:
            text = text[: max(1, len(text) * row["__cut__"] // len(case.names))]
        lines.append(text)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _write_xlsx(case: Case, path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("claims")
    sheet.append(case.names)
    for row in case.rows:
        sheet.append([row.get(n) if row.get(n) != "" else None for n in case.names])
    book.save(path)


# -- judging ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str  # clean, traceback, silent, neutral, havoc
    detail: str = ""


class Fuzzer:
    """Tries on one casebook, with the bundled rules compiled once for screening."""

    def __init__(self, url: str, folder: Path) -> None:
        self.folder = folder
        self.engine = make_engine(url)
        self.session = Session(self.engine)
        hospitals, groups = reference_files(folder)
        for kind, path in (("hospitals", hospitals), ("groups", groups)):
            import_file(path, kind=kind, session=self.session)
        rules = bundled_rules_dir()
        codes = CodeTables.from_dir(resolve_codes_dir(None, rules))
        setup = ScreenSetup(
            rules,
            codes,
            queries.load_hospitals(session=self.session),
            queries.load_groups(session=self.session),
        )
        self.screener = setup.screener()
        # Rejections that named another field than the mutated one (reported, not counted as failures).
        self.misnamed: list[str] = []

    def close(self) -> None:
        self.session.close()
        self.engine.dispose()

    def run(self, rnd: random.Random, number: int, fmt: str) -> tuple[Outcome, Case]:
        case = Case(fmt, base_rows(rnd, f"T{number}"), list(HEADER))
        for mutate in rnd.sample(MUTATIONS, rnd.choice((1, 1, 2, 3))):
            mutate(rnd, case)
        path = self.folder / f"try{number}.{fmt}"
        write(case, path)
        try:
            report = import_file(
                path, kind="claims", session=self.session, rejects_path=self.folder / "r.csv"
            )
        except DrgauditError as exc:
            return self._refused(case, str(exc)), case
        except Exception:  # noqa: BLE001 - what the fuzzer is looking for
            self.session.rollback()
            return Outcome("traceback", traceback.format_exc()), case
        finally:
            path.unlink(missing_ok=True)
        try:
            failure = self._screen(report)
        except Exception:  # noqa: BLE001
            return Outcome("traceback", "screening: " + traceback.format_exc()), case
        if failure:
            return Outcome("traceback", f"screening failed on what import accepted: {failure}"), case
        return self._judge(case, report), case

    def _refused(self, case: Case, message: str) -> Outcome:
        if any(e.kind == "havoc" for e in case.expects):
            return Outcome("havoc", message)
        refusals = [e for e in case.expects if e.kind == "refuse"]
        if any(any(part in message for part in e.message.split("|")) for e in refusals):
            return Outcome("clean", message)
        # A whole-file refusal nobody expected: still clean (nothing stored, one clear message) if the
        # file held something bad; a refusal of a file with only neutral changes is a false alarm.
        if any(e.kind in ("reject", "duplicate") for e in case.expects):
            return Outcome("clean", message)
        return Outcome("silent", f"a file with only neutral changes was refused: {message}")

    def _screen(self, report: ImportReport) -> str:
        if report.batch_id is None:
            return ""
        patients = {pid for (pid,) in self.session.execute(_batch_patients(report.batch_id))}
        claims = queries.claims_for_patients(
            session=self.session, patient_ids=patients, since=date(1900, 1, 1)
        )
        targets = queries.batch_claim_ids(
            session=self.session, batch_id=report.batch_id, patient_ids=patients
        )
        parts = [
            Partition(pid, [c for c in claims[pid] if c["claim_id"] in targets[pid]],
                      [c for c in claims[pid] if c["claim_id"] not in targets[pid]])
            for pid in sorted(patients)
        ]  # fmt: skip
        result = screen_chunk(self.screener, parts)
        return "; ".join(f"{f.patient_id!r}: {f.reason}" for f in result.failed)

    def _judge(self, case: Case, report: ImportReport) -> Outcome:
        """Rows are told apart by their claim id (row numbers move with multi-line cells and blank lines)."""
        bad = any(e.kind in ("reject", "duplicate", "refuse") for e in case.expects)
        if any(e.kind == "havoc" for e in case.expects):
            return Outcome("havoc")  # havoc may have broken good rows or mended bad ones: no oracle
        if report.batch_id is None:
            return Outcome("clean" if bad else "silent", f"nothing imported: {report.nothing_imported}")
        stored = {cid for (cid,) in self.session.execute(_batch_claims(report.batch_id))}
        rejected = self._rejected(report.batch_id)
        silent = []
        for expect in case.expects:
            if expect.kind == "refuse":
                silent.append(f"expected the file refused ({expect.message}), it was imported")
            elif expect.kind == "reject":
                written = _canonical_id(case.rows[expect.row].get("claim_id"))
                shared = sum(_canonical_id(r.get("claim_id")) == written for r in case.rows) > 1
                if written in stored and not shared:
                    silent.append(f"claim {written!r} stored, expected rejected on {sorted(expect.fields)}")
                elif not shared and len(written) >= 3:
                    # Its rejection names the field (or the row), when its line can be told by its id.
                    named = [fields for raw, fields in rejected if written in raw]
                    if len(named) == 1 and not named[0] & (expect.fields | {"row"}):
                        self.misnamed.append(f"{written}: {sorted(named[0])} for {sorted(expect.fields)}")
            elif expect.kind == "duplicate":
                claim_id = _canonical_id(expect.values["claim_id"])
                twins = {k for k, r in enumerate(case.rows) if _canonical_id(r.get("claim_id")) == claim_id}
                if len(twins) < 2 or any(e.kind == "reject" and e.row in twins for e in case.expects):
                    continue  # overwritten by a later mutation, or one of the two is bad anyway
                if not self._duplicate_rejected(report.batch_id, claim_id):
                    silent.append(f"claim {claim_id!r} given twice, no duplicate rejected")
            elif expect.kind == "accept":
                if any(e.kind in ("reject", "duplicate") and e.row == expect.row for e in case.expects):
                    continue  # the same row also holds a bad value
                claim_id = _canonical_id(case.rows[expect.row].get("claim_id"))
                if sum(_canonical_id(r.get("claim_id")) == claim_id for r in case.rows) > 1:
                    continue  # a duplicated id: which of the rows is stored is the duplicate check's business
                if claim_id not in stored:
                    silent.append(f"claim {claim_id!r} not stored, expected accepted")
                    continue
                record = queries.get_claim(session=self.session, claim_id=claim_id) or {}
                for name, value in expect.values.items():
                    if record.get(name) != value:
                        silent.append(
                            f"claim {claim_id!r}: {name} stored as {record.get(name)!r}, expected {value!r}"
                        )
        if silent:
            return Outcome("silent", "; ".join(silent))
        return Outcome("clean" if bad else "neutral")

    def _rejected(self, batch_id: int) -> list[tuple[str, set[str]]]:
        """Each rejected row of a batch: its raw text and the fields its errors name."""
        from sqlalchemy import select

        from drgaudit.casebook.models import RejectedRow

        rows: dict[int, tuple[str, set[str]]] = {}
        query = select(RejectedRow.row, RejectedRow.field, RejectedRow.raw).where(
            RejectedRow.batch_id == batch_id
        )
        for row, name, raw in self.session.execute(query):
            rows.setdefault(row, (raw or "", set()))[1].add(name)
        return list(rows.values())

    def _duplicate_rejected(self, batch_id: int, claim_id: str) -> bool:
        from sqlalchemy import select

        from drgaudit.casebook.models import RejectedRow

        query = select(RejectedRow.raw).where(
            RejectedRow.batch_id == batch_id,
            RejectedRow.field == "claim_id",
            RejectedRow.reason.like("duplicate of row%"),
        )
        return any(claim_id in (raw or "") for (raw,) in self.session.execute(query))


def _canonical_id(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _batch_claims(batch_id: int) -> Any:
    from sqlalchemy import select

    from drgaudit.casebook.models import BatchClaim

    return select(BatchClaim.claim_id).where(BatchClaim.batch_id == batch_id)


def _batch_patients(batch_id: int) -> Any:
    from sqlalchemy import select

    from drgaudit.casebook.models import BatchClaim

    return select(BatchClaim.patient_id).where(BatchClaim.batch_id == batch_id).distinct()


def _rejected_rows(batch_id: int) -> Any:
    from sqlalchemy import select

    from drgaudit.casebook.models import RejectedRow

    return select(RejectedRow.row, RejectedRow.field).where(RejectedRow.batch_id == batch_id)


@dataclass
class Summary:
    tries: int = 0
    counts: Counter = field(default_factory=Counter)
    by_format: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    findings: list[dict[str, Any]] = field(default_factory=list)
    misnamed: list[str] = field(default_factory=list)

    @property
    def tracebacks(self) -> int:
        return self.counts["traceback"]

    @property
    def silent(self) -> int:
        return self.counts["silent"]


def fuzz(
    *,
    tries: int,
    seed: int,
    formats: tuple[str, ...] = FORMATS,
    url: str | None = None,
    progress: bool = False,
) -> Summary:
    """Run `tries` tries; returns the counts and the findings (tracebacks and silent acceptances)."""
    rnd = random.Random(seed)
    summary = Summary()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="drgaudit-fuzz-") as tmp:
        fuzzer = Fuzzer(url or f"sqlite:///{Path(tmp) / 'fuzz.sqlite'}", Path(tmp))
        try:
            for number in range(tries):
                fmt = formats[number % len(formats)]
                outcome, case = fuzzer.run(rnd, number, fmt)
                summary.tries += 1
                summary.counts[outcome.kind] += 1
                summary.by_format[fmt, outcome.kind] += 1
                if outcome.kind in ("traceback", "silent"):
                    summary.findings.append(
                        {"try": number, "seed": seed, "format": fmt, "outcome": outcome.kind,
                         "mutations": case.applied, "detail": outcome.detail}
                    )  # fmt: skip
                if progress and (number + 1) % 100 == 0:
                    print(f"  {number + 1:,} tries: {dict(summary.counts)}", file=sys.stderr)
            summary.misnamed = list(fuzzer.misnamed)
        finally:
            fuzzer.close()
    summary.seconds = time.perf_counter() - started
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=2000, help="tries (default 2,000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="csv,jsonl,xlsx (default all three)")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file in a temporary folder)")
    parser.add_argument(
        "--findings", type=Path, help="write every traceback and silent acceptance here (JSONL)"
    )
    args = parser.parse_args(argv)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    if not formats or set(formats) - set(FORMATS):
        parser.error(f"--formats takes {', '.join(FORMATS)}")
    summary = fuzz(tries=args.tries, seed=args.seed, formats=formats, url=args.db, progress=True)
    counts = summary.counts
    print(
        f"tries:               {summary.tries:,} ({', '.join(formats)}; seed {args.seed}; {summary.seconds:.0f} s)"
    )
    print(f"clean rejections:    {counts['clean']:,} (every bad value refused: its row named, or the file)")
    print(f"neutral accepted:    {counts['neutral']:,} (harmless changes, stored with the same values)")
    print(f"havoc, no traceback: {counts['havoc']:,} (random bytes; no oracle beyond a clean result)")
    print(f"tracebacks:          {summary.tracebacks:,}")
    print(f"silent acceptances:  {summary.silent:,}")
    print(f"rejections naming another field than the one mutated: {len(summary.misnamed)}")
    for line in summary.misnamed[:5]:
        print(f"  {line}")
    for fmt in formats:
        row = ", ".join(
            f"{kind} {summary.by_format[fmt, kind]}"
            for kind in ("clean", "neutral", "havoc", "traceback", "silent")
        )
        print(f"  {fmt:<6} {row}")
    for finding in summary.findings[:10]:
        print(f"  try {finding['try']} ({finding['format']}, {', '.join(finding['mutations'])}): "
              f"{finding['outcome']}: {finding['detail'].strip().splitlines()[-1][:300]}")  # fmt: skip
    if args.findings:
        with open(args.findings, "w", encoding="utf-8") as f:
            for finding in summary.findings:
                f.write(json.dumps(finding, ensure_ascii=False) + "\n")
    return 1 if summary.tracebacks or summary.silent else 0


if __name__ == "__main__":
    raise SystemExit(main())
