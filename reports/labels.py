"""Names a report shows: coded values from the one vocabulary (drgaudit.labels), and region and rule
names from the rule pack."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drgaudit.engine.loader import bundled_rules_dir
from drgaudit.labels import VALUE_LABELS, family_name

# Names of coded values, from the one vocabulary (drgaudit.labels).
FAMILY_NAMES = VALUE_LABELS["family"]
ACTION_NAMES = VALUE_LABELS["action"]
SEVERITY_NAMES = VALUE_LABELS["severity"]
SCHEME_NAMES = VALUE_LABELS["payment_scheme"]
LEVEL_NAMES = VALUE_LABELS["hospital.level"]


@dataclass
class Vocabulary:
    """Names for codes a report shows: families, actions, severities, regions and rule titles.

    Region names come from the rule pack's `regions/*.yaml` files and family names declared in its rule
    files, read directly with a safe loader: a report shows stored results and must not fail because
    the rule pack is being edited. Rule titles come from the stored hits' evidence (`remember_rule`).
    """

    regions: dict[str, str] = field(default_factory=dict)
    families: dict[str, str] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, rules_dir: Path | None = None, region_names: dict[str, str] | None = None) -> Vocabulary:
        """Names from the rule pack at `rules_dir`, with `region_names` (report settings) for regions it lacks."""
        folder = Path(rules_dir) if rules_dir else bundled_rules_dir()
        regions: dict[str, str] = dict(region_names or {})
        for path in sorted((folder / "regions").glob("*.yaml")):
            data = _read(path)
            if isinstance(data, dict) and data.get("region") and data.get("name"):
                regions[str(data["region"])] = str(data["name"])
        families: dict[str, str] = {}
        for path in sorted(folder.glob("*.yaml")):
            data = _read(path)
            if isinstance(data, dict) and isinstance(data.get("families"), dict):
                families.update({str(k): str(v) for k, v in data["families"].items()})
        return cls(regions, families)

    def remember_rule(self, rule_id: str, evidence: dict[str, Any] | None) -> None:
        """Keep a rule's title from a stored hit's evidence (`evidence.rule.title`)."""
        rule = (evidence or {}).get("rule") or {}
        if rule.get("title"):
            self.rules[rule_id] = str(rule["title"])

    def family(self, code: str) -> str:
        return family_name(code, self.families)

    def action(self, code: str) -> str:
        return ACTION_NAMES.get(code, code)

    def severity(self, code: str) -> str:
        return SEVERITY_NAMES.get(code, code)

    def region(self, code: str | None) -> str:
        """A region's name from its rule-pack file (e.g. 成都市（示例）), else its code."""
        if not code:
            return "—"
        return self.regions.get(code, code)

    def pooling_regions(self) -> list[tuple[str, str]]:
        """(code, name) of the pooling regions, by code: the rule pack's national defaults (`national`,
        全国默认) are no region a claim, a meeting or an account belongs to."""
        return sorted(
            (code, name) for code, name in self.regions.items() if code.isdigit() and len(code) == 6
        )

    def rule_title(self, rule_id: str) -> str:
        return self.rules.get(rule_id, rule_id)

    def issuer(self, regions: list[str], issuer: str) -> str:
        """The issuing body: '<region name><issuer>' for one known region, the issuer alone otherwise."""
        if len(regions) == 1 and regions[0] in self.regions:
            return f"{self.regions[regions[0]].split('（')[0]}{issuer}"
        return issuer


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # a broken file is the rule checker's business; the report shows codes instead
