"""Where the demo finds its code tables: the bundled CHS-DRG 1.1 subset (rules/codes) or the full reference."""

from __future__ import annotations

from pathlib import Path

from drgaudit.engine.loader import bundled_rules_dir


def bundled_codes_dir() -> Path:
    """The folder of the hand-made CHS-DRG 1.1 subset shipped in the rule pack."""
    return bundled_rules_dir() / "codes"


# The full national tables of the development checkout, next to the repository (read-only reference).
SHARED_REFERENCE = Path("..") / "shared" / "reference" / "chs-drg-1.1"


def default_codes_dir(cwd: Path | None = None) -> Path | None:
    """The full CHS-DRG 1.1 tables at ../shared/reference/chs-drg-1.1 if present, else None (bundled subset)."""
    candidate = (cwd or Path.cwd()) / SHARED_REFERENCE
    return candidate.resolve() if (candidate / "diagnoses.tsv").is_file() else None
