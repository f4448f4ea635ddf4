"""The `drgaudit demo` data: a seeded synthetic province with planted violations and their ground truth."""

from __future__ import annotations

from drgaudit.demo.generator import DemoManifest, generate

__all__ = ["DemoManifest", "generate"]
