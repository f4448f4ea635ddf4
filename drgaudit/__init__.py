"""drgaudit: audit inpatient DRG/DIP claims against auditors' YAML rules."""

from __future__ import annotations

__version__ = "0.1.0"
