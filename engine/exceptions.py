"""Errors of the rule engine: located rule-file errors, the all-in-one-pass pack error, runtime failures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drgaudit.errors import DrgauditError

if TYPE_CHECKING:
    from drgaudit.engine.yamlsource import Position


class RuleError(DrgauditError):
    """Root of the rule engine's errors."""


class RuleFileError(RuleError):
    """One problem at one place of a rule, list or region file, printed as `path:line:col: message`."""

    def __init__(
        self,
        position: Position,
        message: str,
        hint: str | None = None,
        code: str = "parse",
        severity: str = "error",
    ) -> None:
        self.position = position
        self.severity = severity
        self.message = message
        self.hint = hint
        self.code = code
        super().__init__(self.render())

    def render(self) -> str:
        """The one-line form: `path:line:col: message (hint)`."""
        label = "warning: " if self.severity == "warning" else ""
        text = f"{self.position}: {label}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class ExpressionError(RuleFileError):
    """A condition, amount or message expression that is not in the allowed language."""


class RulePackError(RuleError):
    """A rule pack that cannot be used; carries every error found in one pass."""

    def __init__(self, errors: list[RuleFileError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.position.path, e.position.line, e.position.col))
        count = len(self.errors)
        super().__init__(
            "\n".join(e.render() for e in self.errors) + f"\n{count} error{'s' if count != 1 else ''}"
        )


class UnconfiguredRegionError(RuleError):
    """Claims of a treatment region the rule pack has no configuration for, which it may not price."""

    def __init__(self, regions: list[str]) -> None:
        self.regions = sorted(set(regions))
        names = ", ".join(self.regions)
        first = self.regions[0]
        super().__init__(
            f"treatment region {names} has no configuration in the rule pack (regions/{first}.yaml): "
            "its claims would be priced on the national placeholder rates, so screening stopped. "
            f"Add regions/{first}.yaml with the region's rates (copy a region file and change region: and "
            "settings:), or set `allow_placeholder_rates: true` in pack.yaml to screen on the placeholders "
            "(every estimate and hit then says so)"
        )


class EngineError(RuleError):
    """The durable-rules runtime failed in a way the adapter could not hide."""


class WorkerDiedError(DrgauditError):
    """A worker process of a screen ended abruptly (killed, out of memory) while it screened."""
