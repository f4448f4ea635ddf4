"""Masking of patient identifiers in everything that leaves the bureau.

Rule (parameters in settings.yaml `masking`): keep the first `keep_head` and last `keep_tail`
characters and replace the rest with `*`, masking at least `min_masked` characters; when the id is too
short for that, fewer head/tail characters are kept, the head first (an id of `min_masked` characters or fewer is
masked entirely). The same id always masks the same way, so a hospital can match its own records by
claim id while the person stays unnamed. `mask_text` also masks the id where it appears inside a
sentence (hit messages name the patient).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Masker:
    """Masks patient ids by the settings' rule."""

    keep_head: int = 3
    keep_tail: int = 2
    min_masked: int = 4

    @classmethod
    def from_settings(cls, masking: dict[str, Any]) -> Masker:
        return cls(int(masking["keep_head"]), int(masking["keep_tail"]), max(1, int(masking["min_masked"])))

    def mask(self, value: str | None) -> str:
        """One id masked."""
        if not value:
            return ""
        length = len(value)
        head, tail = self.keep_head, self.keep_tail
        while head + tail > 0 and length - head - tail < self.min_masked:
            if head >= tail and head > 0:
                head -= 1
            else:
                tail -= 1
        hidden = length - head - tail
        return value[:head] + "*" * hidden + (value[length - tail :] if tail else "")

    def mask_text(self, text: str | None, ids: Iterable[str]) -> str:
        """`text` with every occurrence of each id replaced by its masked form (longest ids first)."""
        if not text:
            return ""
        for value in sorted({i for i in ids if i}, key=len, reverse=True):
            text = text.replace(value, self.mask(value))
        return text

    def mask_value(self, value: Any, ids: Iterable[str]) -> Any:
        """A JSON-like value (evidence) with the ids masked in every string, keys included."""
        ids = list(ids)
        if isinstance(value, str):
            return self.mask_text(value, ids)
        if isinstance(value, dict):
            return {self.mask_text(str(k), ids): self.mask_value(v, ids) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.mask_value(v, ids) for v in value]
        return value
