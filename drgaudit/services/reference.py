"""Reference data a long-running service keeps between requests: the rule pack, code tables, hospitals
and group tables, with the report vocabulary and masking — reloaded when the casebook's imports or
code sets change (one cheap query per request tells)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.models import ImportBatch
from drgaudit.casebook.screening import CodeSet, choose_codes
from drgaudit.engine.facts import ReferenceData
from drgaudit.engine.loader import load_pack
from drgaudit.engine.pack import RulePack
from drgaudit.reports.casefile import CaseFiles
from drgaudit.reports.config import ReportSettings, load_settings
from drgaudit.reports.labels import Vocabulary
from drgaudit.reports.masking import Masker


@dataclass
class Reference:
    """Everything loaded once: pack, hospitals, the engine's reference data, names and masking."""

    stamp: tuple[Any, ...]
    pack: RulePack
    hospitals: dict[str, dict[str, Any]]
    data: ReferenceData
    words: Vocabulary
    settings: ReportSettings
    rules_dir: Path

    def masker(self) -> Masker:
        return Masker.from_settings(self.settings.get("masking"))

    def case_files(self, session: Session) -> CaseFiles:
        """Case files for one request's session."""
        return CaseFiles.from_reference(
            session=session, masker=self.masker(), words=self.words, hospitals=self.hospitals, reference=self.data,
            history_days=int(self.settings.get("packet.history_days")),
        )  # fmt: skip


class ReferenceCache:
    """The reference data of one rule pack, reloaded when a new import batch or code set appears."""

    def __init__(self, rules_dir: Path, pack: RulePack | None = None) -> None:
        self.rules_dir = Path(rules_dir)
        self._pack = pack
        self._current: Reference | None = None
        self._lock = threading.Lock()

    def get(self, session: Session) -> Reference:
        stamp = tuple(
            session.execute(
                select(
                    select(func.max(ImportBatch.id)).scalar_subquery(),
                    select(func.max(CodeSet.id)).scalar_subquery(),
                )
            ).one()
        )
        current = self._current
        if current is not None and current.stamp == stamp:
            return current
        with self._lock:
            if self._current is None or self._current.stamp != stamp:
                self._current = self._load(session, stamp)
            return self._current

    def _load(self, session: Session, stamp: tuple[Any, ...]) -> Reference:
        pack = self._pack or load_pack(self.rules_dir)
        settings = load_settings()
        codes = choose_codes(session=session, codes_dir=None, rules_dir=self.rules_dir)
        hospitals = queries.load_hospitals(session=session)
        data = ReferenceData(hospitals, queries.load_groups(session=session), codes, pack)
        words = Vocabulary.load(self.rules_dir, settings.get("region_names"))
        for rule in pack.rules:
            words.rules.setdefault(rule.id, rule.title)
        return Reference(stamp, pack, hospitals, data, words, settings, self.rules_dir)
