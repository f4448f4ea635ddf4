"""Where the demo finds its code tables: the national CHS-DRG 1.1 tables bundled with drgaudit.

The demo draws every code from them, wherever it is run; `drgaudit demo --codes DIR` draws from
another folder in the same layout instead.
"""

from __future__ import annotations

from drgaudit.engine.codes import bundled_codes_dir

__all__ = ["bundled_codes_dir"]
