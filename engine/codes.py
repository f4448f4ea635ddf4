"""National code tables of one grouping-scheme version (valid codes, CC/MCC, exclusions, DRG names).

They are data, not code: a folder in the code-table layout (`--codes DIR`; docs/DATA-CONTRACT.md), the
copy loaded into the casebook with `drgaudit import codes DIR`, or the national CHS-DRG 1.1 tables that
ship inside the package (`drgaudit/codesets/chs-drg-1.1`, Apache-2.0, from OpenDRG), the default when
no other set is given or loaded. Which set a screen uses is decided in one place,
`drgaudit.casebook.screening.choose_codes`; every summary and hit names it (`CodeTables.label`).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from drgaudit.errors import DataFileError

# How many (principal, secondary diagnoses) answers `complications` remembers; past that it stops adding.
_MEMO_ENTRIES = 20_000

# The code set that ships inside the package, and its name in summaries and hits.
BUNDLED_CODES_NAME = "CHS-DRG 1.1"
BUNDLED_CODES_FOLDER = "chs-drg-1.1"


def bundled_codes_dir() -> Path:
    """The folder of the national CHS-DRG 1.1 tables shipped inside the package (with LICENSE and NOTICE)."""
    return Path(str(files("drgaudit") / "codesets" / BUNDLED_CODES_FOLDER))


# Tables already read in this process, by folder and file state: the full national tables take a
# noticeable fraction of a second to parse, and tests and commands read the same folder many times.
_READ: dict[tuple[str, tuple[tuple[str, int, int], ...]], tuple[dict[str, dict[str, str]], str]] = {}

# table name -> (file name, its two columns)
CODE_FILES: dict[str, tuple[str, tuple[str, str]]] = {
    "diagnoses": ("diagnoses.tsv", ("code", "name")),
    "procedures": ("procedures.tsv", ("code", "name")),
    "mcc": ("mcc.tsv", ("code", "exclusion_table")),
    "cc": ("cc.tsv", ("code", "exclusion_table")),
    "principal_exclusion": ("principal_exclusion.tsv", ("principal_code", "exclusion_table")),
    "drg_groups": ("drg_groups.tsv", ("drg", "name")),
}


@dataclass(frozen=True)
class Complications:
    """Which secondary diagnoses count as MCC or CC for a principal diagnosis, and which were excluded."""

    mcc: tuple[str, ...]
    cc: tuple[str, ...]
    excluded: tuple[str, ...]


@dataclass
class CodeTables:
    """The six tables of one scheme version, as dicts keyed by code."""

    source: str
    tables: dict[str, dict[str, str]]
    digest: str = ""
    name: str = ""
    _cache: dict[tuple[str, tuple[str, ...]], Complications] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        """How summaries, hits and reports name this code set: its name and a digest of its content."""
        return (
            f"{self.name or Path(self.source).name} ({self.digest})"
            if self.digest
            else (self.name or self.source)
        )

    @property
    def diagnoses(self) -> dict[str, str]:
        return self.tables["diagnoses"]

    @property
    def procedures(self) -> dict[str, str]:
        return self.tables["procedures"]

    @classmethod
    def from_dir(cls, directory: Path | str) -> CodeTables:
        """Read a folder of the six TSV files; a missing file or column is a DataFileError."""
        root = Path(directory)
        if not root.is_dir():
            raise DataFileError(
                str(root),
                "not a code-table folder (expected diagnoses.tsv, procedures.tsv, mcc.tsv, cc.tsv, principal_exclusion.tsv, drg_groups.tsv)",
            )
        state = []
        for file_name, _columns in CODE_FILES.values():
            path = root / file_name
            if not path.is_file():
                raise DataFileError(str(path), "missing code table")
            stat = path.stat()
            state.append((file_name, stat.st_mtime_ns, stat.st_size))
        key = (str(root.resolve()), tuple(state))
        if key not in _READ:
            digest = hashlib.sha256()
            tables: dict[str, dict[str, str]] = {}
            for table, (file_name, columns) in CODE_FILES.items():
                path = root / file_name
                raw = path.read_bytes()
                digest.update(raw)
                tables[table] = _parse_tsv(path, raw, columns)
            _READ[key] = (tables, digest.hexdigest()[:16])
        tables, digest_text = _READ[key]
        bundled = root.resolve() == bundled_codes_dir().resolve()
        name = f"{BUNDLED_CODES_NAME} (bundled)" if bundled else root.resolve().name
        # The tables are shared between the objects of one folder: nothing changes them after reading.
        return cls(source=str(root), tables=tables, digest=digest_text, name=name)

    @classmethod
    def bundled(cls) -> CodeTables:
        """The national CHS-DRG 1.1 tables shipped inside the package."""
        return cls.from_dir(bundled_codes_dir())

    @classmethod
    def from_rows(
        cls, source: str, tables: dict[str, dict[str, str]], digest: str, name: str = ""
    ) -> CodeTables:
        """Tables already read elsewhere (e.g. from the casebook)."""
        missing = set(CODE_FILES) - set(tables)
        if missing:
            raise DataFileError(source, f"code tables incomplete, missing: {', '.join(sorted(missing))}")
        return cls(source=source, tables=tables, digest=digest, name=name)

    def complications(self, principal: str, secondary: tuple[str, ...]) -> Complications:
        """MCC and CC among the secondary diagnoses, applying the principal diagnosis's exclusion table."""
        key = (principal, secondary)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        mcc_table, cc_table = self.tables["mcc"], self.tables["cc"]
        principal_table = self.tables["principal_exclusion"].get(principal)
        mcc: list[str] = []
        cc: list[str] = []
        excluded: list[str] = []
        for code in secondary:
            if code == principal:
                continue
            exclusion = mcc_table.get(code)
            target = mcc
            if exclusion is None:
                exclusion = cc_table.get(code)
                target = cc
            if exclusion is None:
                continue
            if principal_table is not None and exclusion == principal_table:
                excluded.append(code)
            else:
                target.append(code)
        result = Complications(tuple(mcc), tuple(cc), tuple(excluded))
        if len(self._cache) < _MEMO_ENTRIES:
            self._cache[key] = result
        return result

    def unknown_codes(self, diagnoses: list[str], procedures: list[str]) -> list[str]:
        """Codes that the tables do not know, in the order they were written."""
        dx, px = self.tables["diagnoses"], self.tables["procedures"]
        return [c for c in diagnoses if c not in dx] + [c for c in procedures if c not in px]


def resolve_codes_dir(codes_dir: Path | str | None, rules_dir: Path | str | None) -> Path:
    """A code-table folder: the one given, else the rule pack's own `codes/`, else the bundled CHS-DRG 1.1.

    This is the folder part of the choice; `drgaudit.casebook.screening.choose_codes` puts a code set
    loaded into the casebook between the given folder and the rest, and is what commands call.
    """
    if codes_dir is not None:
        return Path(codes_dir)
    if rules_dir is not None and (Path(rules_dir) / "codes").is_dir():
        return Path(rules_dir) / "codes"
    return bundled_codes_dir()


def _parse_tsv(path: Path, raw: bytes, columns: tuple[str, str]) -> dict[str, str]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(str(path), f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    reader = csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:2]] != list(columns):
        raise DataFileError(
            str(path), f"header must start with {columns[0]}\\t{columns[1]}, found {header!r}"
        )
    result: dict[str, str] = {}
    first_row: dict[str, int] = {}
    problems: list[str] = []
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        code = row[0].strip()
        if len(row) < 2:
            problems.append(f"{path}:{row_number}: expected 2 columns ({columns[0]}, {columns[1]}), found 1")
        elif not code:
            problems.append(
                f"{path}:{row_number}: {columns[0]}: missing, beside {columns[1]} {row[1].strip()!r}"
            )
        elif code in result and result[code] != row[1].strip():
            problems.append(
                f"{path}:{row_number}: {columns[0]}: {code} is listed again with {columns[1]} "
                f"{row[1].strip()!r} (row {first_row[code]} says {result[code]!r})"
            )
        else:
            result.setdefault(code, row[1].strip())
            first_row.setdefault(code, row_number)
    if problems:
        # Every problem of the file at once, so that one reading mends it; nothing of it is loaded.
        shown = "\n".join(f"  {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN])
        more = (
            f"\n  … and {len(problems) - MAX_PROBLEMS_SHOWN} more"
            if len(problems) > MAX_PROBLEMS_SHOWN
            else ""
        )
        count = f"{len(problems)} bad row{'s' if len(problems) > 1 else ''}"
        raise DataFileError(str(path), f"{count}; the code tables were not loaded:\n{shown}{more}")
    return result


# Bad rows of a code table listed in its error (the count says how many there are in all).
MAX_PROBLEMS_SHOWN = 20
