"""Report settings: monitoring thresholds, list lengths and the masking rule, from YAML.

The defaults are `settings.yaml` beside this module (documented there, in Chinese); a user file given
with `--config` changes only the keys it names. Every key and the type of every value is checked
against the defaults, so a misspelt key is an error with a hint, never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from drgaudit.engine.suggest import did_you_mean
from drgaudit.reports.errors import ReportError

DEFAULTS_FILE = "settings.yaml"


@dataclass(frozen=True)
class ReportSettings:
    """The merged report settings; `values` is the nested mapping of settings.yaml."""

    values: dict[str, Any]
    source: str

    def get(self, dotted: str) -> Any:
        """A setting by dotted name, e.g. `monitoring.watch.cost_growth`."""
        node: Any = self.values
        for part in dotted.split("."):
            node = node[part]
        return node


def _defaults() -> dict[str, Any]:
    text = resources.files("drgaudit.reports").joinpath(DEFAULTS_FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _merge(base: dict[str, Any], override: Any, where: str, source: str) -> dict[str, Any]:
    if not isinstance(override, dict):
        raise ReportError(f"{source}: {where or 'the file'} must be a mapping")
    merged = dict(base)
    for key, value in override.items():
        name = f"{where}.{key}" if where else str(key)
        if key not in base:
            hint = did_you_mean(str(key), [str(k) for k in base])
            raise ReportError(f"{source}: unknown setting `{name}`" + (f" ({hint})" if hint else ""))
        default = base[key]
        if isinstance(default, dict) and not default:  # a free mapping of names (region_names)
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ReportError(f'{source}: `{name}` must map codes to names, e.g. {{"510300": 自贡市}}')
            merged[key] = {str(k): v for k, v in value.items()}
        elif isinstance(default, dict):
            merged[key] = _merge(default, value, name, source)
        elif isinstance(default, bool) or isinstance(default, str):
            if type(value) is not type(default):
                raise ReportError(f"{source}: `{name}` must be {type(default).__name__}, got {value!r}")
            merged[key] = value
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ReportError(f"{source}: `{name}` must be a number, got {value!r}")
            if value < 0:
                raise ReportError(f"{source}: `{name}` must not be negative, got {value!r}")
            if isinstance(default, int) and not isinstance(value, int):
                raise ReportError(f"{source}: `{name}` must be a whole number, got {value!r}")
            merged[key] = value
    return merged


def load_settings(path: Path | str | None = None) -> ReportSettings:
    """The default report settings, with the keys of the YAML file at `path` (if any) laid over them."""
    defaults = _defaults()
    if path is None:
        return ReportSettings(defaults, "defaults")
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read report settings: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ReportError(f"{path}: not valid YAML: {exc}") from exc
    return ReportSettings(_merge(defaults, data or {}, "", str(path)), str(path))
