"""Small inline-SVG charts for the reports: horizontal bars, paired bars and box plots (no JavaScript).

Every chart is an `<svg class="chart …" role="img">` with a `<title>`, one `<rect class="bar">` (or
`<g class="box">`) per item carrying `data-label`/`data-value`, and text labels, so it prints (WeasyPrint),
shows in any browser and can be checked by tests. Labels are escaped; sizes are in CSS pixels.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

FONT = "Noto Sans CJK SC, Noto Sans SC, Source Han Sans SC, Microsoft YaHei, sans-serif"
PALETTE = ("#2f5d8a", "#c8553d", "#6b8f71", "#d9a441", "#7a6c9d")
FONT_SIZE = 12


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Estimated width of `text`: CJK and full-width characters are one em, the rest about 0.6 em."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in text)


def clip(text: str, width: float, size: float = FONT_SIZE) -> str:
    """`text` cut with '…' to fit `width`."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _attr(value: object) -> str:
    return str(escape(str(value)))


def _open(css: str, width: float, height: float, title: str) -> list[str]:
    return [
        f'<svg class="chart {css}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_attr(title)}" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'font-family="{FONT}" font-size="{FONT_SIZE}">',
        f"<title>{escape(title)}</title>",
    ]


def nice_max(value: float) -> float:
    """A round axis end at or above `value` (1, 2, 2.5, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate: float = step * 10**exponent  # int ** int is typed Any (a negative power is a float)
        if candidate >= value * 0.999:
            return candidate
    end: float = 10 ** (exponent + 1)
    return end


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    value_label: Callable[[float], str] = lambda v: f"{v:,.0f}",
    width: int = 640,
    label_width: int = 200,
    color: str = PALETTE[0],
) -> Markup:
    """Horizontal bars, one per (label, value), longest first as given; values must be ≥ 0."""
    row, top = 22, 8
    height = top * 2 + row * max(1, len(items))
    value_room = 110
    span = width - label_width - value_room
    peak = max((v for _, v in items), default=0.0) or 1.0
    parts = _open("bar-chart", width, height, title)
    for index, (label, value) in enumerate(items):
        y = top + index * row
        length = max(0.0, value) / peak * span
        parts.append(
            f'<text class="label" x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(clip(label, label_width - 10))}</text>'
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" fill="{color}" '
            f'data-label="{_attr(label)}" data-value="{value}"/>'
            f'<text class="value" x="{label_width + length + 5:.1f}" y="{y + 15}">{escape(value_label(value))}</text>'
        )
    if not items:
        parts.append(f'<text x="{width / 2}" y="{top + 15}" text-anchor="middle">无数据</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def paired_bar_chart(
    items: Sequence[tuple[str, float | None, float | None]],
    *,
    title: str,
    legend: tuple[str, str],
    value_label: Callable[[float], str] = lambda v: f"{v:,.0f}",
    width: int = 640,
    label_width: int = 200,
) -> Markup:
    """Two bars per label (e.g. cross-region and local average cost); a missing value draws no bar."""
    pair, top, legend_h = 34, 8, 22
    height = top * 2 + legend_h + pair * max(1, len(items))
    value_room = 90
    span = width - label_width - value_room
    peak = max((v for _, a, b in items for v in (a, b) if v is not None), default=0.0) or 1.0
    parts = _open("paired-bar-chart", width, height, title)
    for index, name in enumerate(legend):
        x = label_width + index * 150
        parts.append(
            f'<rect class="legend" x="{x}" y="{top}" width="12" height="12" fill="{PALETTE[index]}"/>'
            f'<text x="{x + 16}" y="{top + 11}">{escape(name)}</text>'
        )
    for index, (label, first, second) in enumerate(items):
        y = top + legend_h + index * pair
        parts.append(
            f'<text class="label" x="{label_width - 6}" y="{y + 20}" text-anchor="end">{escape(clip(label, label_width - 10))}</text>'
        )
        for k, value in enumerate((first, second)):
            if value is None:
                continue
            length = max(0.0, value) / peak * span
            by = y + 3 + k * 14
            parts.append(
                f'<rect class="bar" x="{label_width}" y="{by}" width="{length:.1f}" height="12" fill="{PALETTE[k]}" '
                f'data-label="{_attr(label)}" data-series="{_attr(legend[k])}" data-value="{value}"/>'
                f'<text class="value" x="{label_width + length + 4:.1f}" y="{by + 10}" font-size="10">{escape(value_label(value))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass
class BoxStats:
    """One box of a box plot: quartiles, whiskers (the furthest values inside the fences) and outliers."""

    label: str
    q1: float
    median: float
    q3: float
    low: float
    high: float
    outliers: list[float] = field(default_factory=list)
    reference: float | None = None


def nice_step(span: float) -> float:
    """A round tick step (1, 2, 2.5, 5 × 10^n) giving about five ticks over `span`."""
    return nice_max(span / 5) if span > 0 else 1.0


def axis_range(values: Sequence[float]) -> tuple[float, float, float]:
    """A round axis (start, end, tick step) covering every value: it starts at the round step at or below
    the smallest value (0 when that is near), and ends at the round step at or above the largest."""
    if not values:
        return 0.0, 1.0, 0.2
    low, high = min(values), max(values)
    if high <= low:
        high = low + max(abs(low) * 0.5, 1.0)
    step = nice_step(high - low)
    start = max(0.0, math.floor(low / step) * step) if low >= 0 else math.floor(low / step) * step
    end = math.ceil(high / step - 1e-9) * step
    return start, end, step


def box_plot(
    boxes: Sequence[BoxStats],
    *,
    title: str,
    axis_label: str,
    axis_max: float | None = None,
    width: int = 640,
    label_width: int = 170,
) -> Markup:
    """Horizontal box plots on one shared axis that scales to the data (every whisker, outlier and
    reference line fits); outliers are red dots. With `axis_max`, values above it are drawn at the axis
    end as ▶."""
    row, top, axis_h = 26, 8, 34
    height = top + row * max(1, len(boxes)) + axis_h
    span = width - label_width - 20
    values = [v for b in boxes for v in (b.low, b.high, b.q1, b.q3, *b.outliers)]
    values += [b.reference for b in boxes if b.reference is not None]
    if axis_max is not None:
        values = [min(v, axis_max) for v in values] + [axis_max]
    start, end, step = axis_range(values)

    def x(value: float) -> float:
        return label_width + (min(max(value, start), end) - start) / (end - start) * span

    parts = _open("box-plot", width, height, title)
    bottom = top + row * max(1, len(boxes))
    ticks = round((end - start) / step)
    parts.append(f'<g class="axis" data-start="{start:g}" data-end="{end:g}">')
    for tick in range(0, ticks + 1):
        value = start + step * tick
        tx = x(value)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top}" x2="{tx:.1f}" y2="{bottom}" stroke="#ddd"/>'
            f'<text x="{tx:.1f}" y="{bottom + 13}" text-anchor="middle" font-size="10">{value:g}</text>'
        )
    parts.append("</g>")
    parts.append(
        f'<text x="{label_width + span / 2:.1f}" y="{bottom + 28}" text-anchor="middle" font-size="11">{escape(axis_label)}</text>'
    )
    for index, box in enumerate(boxes):
        y = top + index * row
        mid = y + row / 2
        parts.append(
            f'<g class="box" data-label="{_attr(box.label)}" data-median="{box.median}" data-outliers="{len(box.outliers)}">'
            f'<text class="label" x="{label_width - 6}" y="{mid + 4}" text-anchor="end">{escape(clip(box.label, label_width - 10))}</text>'
            f'<line x1="{x(box.low):.1f}" y1="{mid}" x2="{x(box.high):.1f}" y2="{mid}" stroke="#555"/>'
            f'<line x1="{x(box.low):.1f}" y1="{mid - 5}" x2="{x(box.low):.1f}" y2="{mid + 5}" stroke="#555"/>'
            f'<line x1="{x(box.high):.1f}" y1="{mid - 5}" x2="{x(box.high):.1f}" y2="{mid + 5}" stroke="#555"/>'
            f'<rect x="{x(box.q1):.1f}" y="{mid - 7}" width="{max(1.0, x(box.q3) - x(box.q1)):.1f}" height="14" fill="#dbe6f1" stroke="{PALETTE[0]}"/>'
            f'<line x1="{x(box.median):.1f}" y1="{mid - 7}" x2="{x(box.median):.1f}" y2="{mid + 7}" stroke="{PALETTE[0]}" stroke-width="2"/>'
        )
        if box.reference is not None:
            rx = x(box.reference)
            parts.append(
                f'<line class="reference" x1="{rx:.1f}" y1="{mid - 9}" x2="{rx:.1f}" y2="{mid + 9}" stroke="#333" stroke-dasharray="2,2"/>'
            )
        for value in box.outliers:
            if value > end:
                parts.append(
                    f'<text class="outlier beyond" x="{x(end) - 4:.1f}" y="{mid + 4}" fill="{PALETTE[1]}" font-size="10">▶</text>'
                )
            else:
                parts.append(
                    f'<circle class="outlier" cx="{x(value):.1f}" cy="{mid}" r="2.5" fill="{PALETTE[1]}"/>'
                )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline(
    stays: Sequence[tuple[str, dt.date, dt.date, bool]],
    *,
    title: str,
    width: int = 640,
    label_width: int = 120,
) -> Markup:
    """A patient's stays on a date axis: one bar per (label, admit, discharge, is_current) row."""
    row, top, axis_h = 20, 6, 30
    height = top + row * max(1, len(stays)) + axis_h
    span = width - label_width - 70
    if stays:
        first = min(s[1] for s in stays)
        last = max(s[2] for s in stays)
    else:
        first = last = dt.date.today()
    days = max(1, (last - first).days)

    def x(day: dt.date) -> float:
        return label_width + (day - first).days / days * span

    parts = _open("timeline", width, height, title)
    bottom = top + row * max(1, len(stays))
    for tick in range(0, 5):
        day = first + dt.timedelta(days=round(days * tick / 4))
        parts.append(
            f'<line x1="{x(day):.1f}" y1="{top}" x2="{x(day):.1f}" y2="{bottom}" stroke="#ddd"/>'
            f'<text x="{x(day):.1f}" y="{bottom + 13}" text-anchor="middle" font-size="10">{day.isoformat()}</text>'
        )
    for index, (label, admit, discharge, current) in enumerate(stays):
        y = top + index * row
        color = PALETTE[1] if current else PALETTE[0]
        length = max(3.0, x(discharge) - x(admit))
        parts.append(
            f'<text class="label" x="{label_width - 6}" y="{y + 14}" text-anchor="end" font-size="11">{escape(clip(label, label_width - 10, 11))}</text>'
            f'<rect class="bar{" current" if current else ""}" x="{x(admit):.1f}" y="{y + 4}" width="{length:.1f}" height="{row - 8}" '
            f'fill="{color}" data-label="{_attr(label)}" data-value="{(discharge - admit).days}"/>'
            f'<text x="{x(admit) + length + 4:.1f}" y="{y + 14}" font-size="10">{(discharge - admit).days}天</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
