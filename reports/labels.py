"""Chinese names of the screening vocabulary, and region and rule names from the rule pack, for reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drgaudit.engine.loader import bundled_rules_dir

FAMILY_NAMES = {
    "split_hospitalization": "分解住院",
    "upcoding": "高编高套",
    "outlier_review": "高低倍率病例",
    "cost_shifting": "转嫁费用",
    "low_standard_admission": "低标入院",
    "frequent_admission": "高频住院",
    "long_stay": "长期住院",
    "coaching_period": "辅导期内异地结算",
    "data_quality": "数据质量",
}
ACTION_NAMES = {"note": "提示", "hold": "暂缓支付", "deduct": "扣减", "special_review": "特例单议"}
SEVERITY_NAMES = {"info": "提示", "low": "低", "medium": "中", "high": "高", "critical": "严重"}
SCHEME_NAMES = {"DRG": "DRG", "DIP": "DIP", "PER_DIEM": "按床日", "FFS": "按项目"}
LEVEL_NAMES = {"1": "一级", "2": "二级", "3": "三级"}


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
        declared = self.families.get(code)
        return FAMILY_NAMES.get(code) or (declared.split("（")[0] if declared else code)

    def action(self, code: str) -> str:
        return ACTION_NAMES.get(code, code)

    def severity(self, code: str) -> str:
        return SEVERITY_NAMES.get(code, code)

    def region(self, code: str | None) -> str:
        """A region's name from its rule-pack file (e.g. 成都市（示例）), else its code."""
        if not code:
            return "—"
        return self.regions.get(code, code)

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
