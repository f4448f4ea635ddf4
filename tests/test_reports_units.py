"""Report building blocks: masking, periods, settings, number formats, SVG charts and the sandboxed templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from drgaudit.periods import PeriodError, parse_period
from drgaudit.reports import charts
from drgaudit.reports.config import load_settings
from drgaudit.reports.errors import ReportError
from drgaudit.reports.formatting import cn_date, growth, percent, points, wan_yuan, yuan
from drgaudit.reports.masking import Masker
from drgaudit.reports.render import environment


def test_masking_keeps_head_and_tail_and_masks_short_ids_more() -> None:
    masker = Masker(keep_head=3, keep_tail=2, min_masked=4)
    assert masker.mask("P510100000001") == "P51********01"
    assert (
        masker.mask("P123456") == "P****56"
    )  # 7 characters: fewer head characters kept so that 4 are hidden
    assert masker.mask("ABCD") == "****"
    assert masker.mask("") == ""
    text = "参保人P510100000001于出院后再次入院，P510100000001"
    assert masker.mask_text(text, ["P510100000001"]) == "参保人P51********01于出院后再次入院，P51********01"
    evidence = {"facts": {"patient_id": "P510100000001", "P510100000001": ["P510100000001"]}}
    assert masker.mask_value(evidence, ["P510100000001"]) == {
        "facts": {"patient_id": "P51********01", "P51********01": ["P51********01"]}
    }
    assert Masker.from_settings(load_settings().get("masking")) == masker


@pytest.mark.parametrize(
    ("text", "start", "end", "label", "previous"),
    [
        ("2025Q3", "2025-07-01", "2025-09-30", "2025年第3季度", ("2025-04-01", "2025-06-30")),
        ("2025-q1", "2025-01-01", "2025-03-31", "2025年第1季度", ("2024-10-01", "2024-12-31")),
        ("2025-03", "2025-03-01", "2025-03-31", "2025年3月", ("2025-02-01", "2025-02-28")),
        ("2025-1", "2025-01-01", "2025-01-31", "2025年1月", ("2024-12-01", "2024-12-31")),
        ("2024", "2024-01-01", "2024-12-31", "2024年", ("2023-01-01", "2023-12-31")),
    ],
)
def test_periods(text: str, start: str, end: str, label: str, previous: tuple[str, str]) -> None:
    period = parse_period(text)
    assert (period.start.isoformat(), period.end.isoformat(), period.label) == (start, end, label)
    before = period.previous()
    assert (before.start.isoformat(), before.end.isoformat()) == previous


def test_custom_period_and_bad_periods() -> None:
    period = parse_period(None, dt.date(2025, 7, 10), dt.date(2025, 7, 19))
    assert (period.label, period.previous().span) == ("2025-07-10 至 2025-07-19", "2025-06-30 至 2025-07-09")
    for args, message in (
        (("2025Q5",), "`2025Q5` is not a period: use 2025 (year), 2025Q3 (quarter) or 2025-07 (month)"),
        (("2025-13",), "`2025-13` is not a period"),
        ((None,), "give --period (e.g. 2025Q3, 2025-07, 2025) or both --from and --to"),
        (("2025", dt.date(2025, 1, 1), None), "give --period or --from/--to, not both"),
        ((None, dt.date(2025, 2, 1), dt.date(2025, 1, 1)), "--to 2025-01-01 is before --from 2025-02-01"),
    ):
        with pytest.raises(PeriodError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_period(*args)


def test_settings_override_only_named_keys_and_refuse_unknown_or_mistyped(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("monitoring:\n  watch:\n    cost_growth: 0.2\n", encoding="utf-8")
    settings = load_settings(path)
    assert settings.get("monitoring.watch.cost_growth") == 0.2
    assert (
        settings.get("monitoring.watch.cmi_growth") == 0.10
        and settings.get("monitoring.readmission_days") == 15
    )
    for text, message in (
        (
            "monitoring:\n  watch:\n    cost_grwoth: 0.2\n",
            ":3:5: unknown key `cost_grwoth` (did you mean `cost_growth`?)",
        ),
        (
            "monitoring:\n  readmission_days: 7.5\n",
            ":2:21: `monitoring.readmission_days` must be a whole number",
        ),
        ("monitoring:\n  min_cases: -1\n", ":2:14: `monitoring.min_cases` must be at least 0"),
        ("monitoring:\n  outlier_iqr_k: .inf\n", ":2:18: `monitoring.outlier_iqr_k` must be a finite number"),
        ("monitoring:\n  watch: 3\n", ":2:10: `monitoring.watch` must be a mapping"),
        ("issuer: 5\n", ":1:9: `issuer` must be text"),
        ("monitoring: [\n", ":2:1: YAML syntax error"),
        ("- 1\n", ":1:1: report settings must be a mapping"),
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ReportError) as caught:
            load_settings(path)
        assert str(caught.value).startswith(str(path) + message), str(caught.value)


def test_chinese_number_formats() -> None:
    assert (yuan(1234567.891), yuan(None), wan_yuan(3768324.21), wan_yuan(9999.5)) == (
        "1,234,567.89",
        "—",
        "376.83万元",
        "9,999.50元",
    )
    assert (percent(0.1234), growth(0.5), growth(-0.05), growth(0.0), points(0.034)) == (
        "12.3%",
        "+50.0%",
        "−5.0%",
        "0.0%",
        "+3.4个百分点",
    )
    assert cn_date(dt.date(2025, 7, 1)) == "2025年7月1日"


def test_bar_chart_has_one_escaped_bar_per_item() -> None:
    svg = str(charts.bar_chart([("<甲>医院", 200.0), ("乙医院", 100.0)], title="金额 & 数量"))
    assert svg.startswith('<svg class="chart bar-chart"') and svg.endswith("</svg>")
    assert svg.count('<rect class="bar"') == 2
    assert "&lt;甲&gt;医院" in svg and "<甲>" not in svg and "金额 &amp; 数量" in svg
    widths = [float(part.split('"')[0]) for part in svg.split('width="')[2:]]  # after the svg's own width
    assert widths[0] == pytest.approx(2 * widths[1])
    empty = str(charts.bar_chart([], title="空"))
    assert "无数据" in empty and 'class="bar"' not in empty


def test_box_plot_marks_outliers_beyond_the_axis() -> None:
    box = charts.BoxStats(
        "FR13", q1=0.9, median=1.0, q3=1.1, low=0.8, high=1.3, outliers=[2.0, 9.0], reference=1.0
    )
    svg = str(charts.box_plot([box], title="分布", axis_label="倍数", axis_max=5))
    assert (
        'data-outliers="2"' in svg
        and svg.count('class="outlier"') == 1
        and svg.count('class="outlier beyond"') == 1
    )


def test_templates_are_sandboxed_and_autoescaped() -> None:
    env = environment()
    assert isinstance(env, SandboxedEnvironment) and env.autoescape
    assert (
        env.from_string("{{ name }}").render(name="<script>alert(1)</script>")
        == "&lt;script&gt;alert(1)&lt;/script&gt;"
    )
    with pytest.raises(SecurityError):
        env.from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()


def test_region_names_from_the_rule_pack_and_the_settings(tmp_path: Path) -> None:
    from drgaudit.reports.labels import Vocabulary

    path = tmp_path / "names.yaml"
    path.write_text('region_names: {"510400": 攀枝花市, "510100": 别名}\n', encoding="utf-8")
    words = Vocabulary.load(None, load_settings(path).get("region_names"))
    assert (words.region("510400"), words.region("510100"), words.region("519999")) == (
        "攀枝花市",
        "成都市（示例）",
        "519999",
    )
    assert words.region("510300") == "自贡市（示例）"  # from its region file
    assert (
        words.issuer(["510400"], "医疗保障局") == "攀枝花市医疗保障局"
        and words.issuer(["510400", "510100"], "医疗保障局") == "医疗保障局"
    )
    path.write_text("region_names: [510300]\n", encoding="utf-8")
    with pytest.raises(ReportError, match="`region_names` must be a mapping"):
        load_settings(path)


def test_box_plot_axis_scales_to_the_data() -> None:
    tight = charts.BoxStats("FR13", q1=0.95, median=1.0, q3=1.05, low=0.82, high=1.27, reference=1.0)
    svg = str(charts.box_plot([tight], title="分布", axis_label="倍数"))
    assert 'data-start="0.8" data-end="1.3"' in svg  # not 0 … 2: the boxes use the width
    wide = charts.BoxStats(
        "BR21", q1=0.9, median=1.1, q3=1.4, low=0.5, high=2.0, outliers=[31.0], reference=1.0
    )
    svg = str(charts.box_plot([tight, wide], title="分布", axis_label="倍数"))
    assert 'data-start="0" data-end="40"' in svg  # the far outlier fits: no fixed cap on the axis
    assert svg.count('class="outlier"') == 1 and 'class="outlier beyond"' not in svg
    assert charts.axis_range([]) == (0.0, 1.0, 0.2)
