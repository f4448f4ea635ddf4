"""Auditor-facing messages in Chinese when the locale is zh_CN (gettext catalogs built with Babel), English
otherwise; the shipped catalogs cover every message of the code and the .mo files are built from them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drgaudit import i18n
from drgaudit.cli.root import app
from drgaudit.cli.screening import print_summary
from drgaudit.i18n_tools import problems
from drgaudit.services.screening import ScreenSummary

runner = CliRunner()


@pytest.fixture
def chinese(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LANGUAGE", "")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    i18n.reset()
    yield
    monkeypatch.setenv("LANGUAGE", "en")
    i18n.reset()


def test_the_catalogs_are_complete_and_compiled() -> None:
    assert problems() == []


def test_rules_check_and_test_speak_chinese_under_zh_cn(chinese: None) -> None:
    checked = runner.invoke(app, ["rules", "check"])
    assert checked.exit_code == 0
    assert checked.stdout.startswith("检查通过：") and "条规则" in checked.stdout
    tested = runner.invoke(app, ["rules", "test", "--rule", "LOS-001"])
    assert re.fullmatch(r"\d+ 个示例：通过 \d+ 个，未通过 0 个", tested.stdout.splitlines()[-1])
    assert tested.stdout.startswith("通过 LOS-001 命中")


def test_english_otherwise() -> None:
    checked = runner.invoke(app, ["rules", "check"])
    assert checked.stdout.startswith("OK: 27 rules") or checked.stdout.startswith("OK: ")
    assert i18n.language() == "en"


def test_a_block_speaks_its_language_whatever_the_environment_says() -> None:
    """The review service's pages speak Chinese under any server locale (`i18n.speaking`, per request)."""
    message = "a decision needs a reason"
    assert i18n._(message) == message and i18n.language() == "en"
    with i18n.speaking("zh_CN"):
        assert i18n._(message) == "请写明决定理由" and i18n.language().startswith("zh")
    assert i18n._(message) == message


def test_a_real_process_follows_lang() -> None:
    script = Path(sys.executable).with_name("drgaudit")
    if not script.exists():
        pytest.skip("the drgaudit console script is not installed beside this Python")
    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    chinese = subprocess.run(
        [str(script), "rules", "check"], env={**env, "LANG": "zh_CN.UTF-8"}, capture_output=True, text=True
    )
    english = subprocess.run(
        [str(script), "rules", "check"], env={**env, "LANG": "C.UTF-8"}, capture_output=True, text=True
    )
    assert chinese.stdout.startswith("检查通过：") and english.stdout.startswith("OK: ")


def test_screen_and_import_summaries_in_chinese(
    chinese: None, tmp_path: Path, make_claim, write_rows
) -> None:
    rows = [make_claim(n) for n in range(1, 4)]
    claims = write_rows(tmp_path / "claims.csv", rows)
    db = str(tmp_path / "c.sqlite")
    imported = runner.invoke(app, ["import", "claims", str(claims), "--db", db])
    assert imported.exit_code == 0, imported.output
    assert "导入 3 行（新增 3，未变 0，修订 0），拒收 0 行" in imported.stdout
    batches = runner.invoke(app, ["batches", "--db", db])
    assert batches.stdout.splitlines()[-1] == "1 个批次"
    heading = batches.stdout.splitlines()[0].split()
    assert heading[:4] == ["批次", "类型", "导入时间", "有效行"], heading  # was "batch  kind  imported  ok …"
    as_data = runner.invoke(app, ["batches", "--db", db, "--format", "csv"])
    assert as_data.stdout.startswith("id,kind,")  # other tools read the stable keys, in any language


def test_every_listing_column_heading_is_in_the_catalog() -> None:
    """A table's headings are declared at module level, before the language is known: each is marked with
    N_() (or given with _()) so that the catalog has it and the table prints it in the user's language."""
    import ast

    unmarked = []
    for path in sorted(Path(i18n.__file__).parent.joinpath("cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "Column"
                and len(node.args) > 1
            ):
                header = node.args[1]
                marked = isinstance(header, ast.Call) and getattr(header.func, "id", None) in ("N_", "_")
                if not marked and not (isinstance(header, ast.Name) and path.name == "output.py"):
                    unmarked.append(f"{path.name}:{node.lineno}")
    assert unmarked == []


def test_a_stored_screen_summary_is_chinese_to_its_last_line(chinese: None, tmp_path: Path) -> None:
    """Every line of the summary, the pre-filter's and the hospital findings' too (once English-only)."""
    from drgaudit.demo.generator import generate

    demo = tmp_path / "demo"
    generate(demo, seed=42, claims=1000)
    db = str(tmp_path / "c.sqlite")
    for kind in ("hospitals", "groups", "claims"):
        assert runner.invoke(app, ["import", kind, str(demo / f"{kind}.csv"), "--db", db]).exit_code == 0
    screened = runner.invoke(app, ["screen", "--batch", "3", "--db", db])
    assert screened.exit_code == 0, screened.output
    summary = screened.stderr
    assert re.search(
        r"^预筛：1000 份结算清单中有 \d+ 份（\d+\.\d%）可能命中，已交 durable-rules 判定$", summary, re.M
    )
    found = re.search(
        r"^医院疑点：新增 (\d+) 条，更新 0 条，撤销 0 条，未变 0 条（见 `drgaudit findings list`）$",
        summary,
        re.M,
    )
    assert found and int(found.group(1)) > 0, summary
    assert "pre-filter" not in summary and "hospital findings" not in summary
    # Every line of it is Chinese, the hits by family too (by the family's name, not its key).
    for line in summary.splitlines():
        assert re.search(r"[\u4e00-\u9fff]", line), line
    assert re.search(
        r"^  (分解住院|高编高套|高低倍率病例|数据质量|转嫁费用|低标入院|高频住院|长期住院) +\d+$",
        summary,
        re.M,
    )


def _summary_with_fallbacks() -> ScreenSummary:
    return ScreenSummary(
        claims=10, patients=4, candidates=2, hits=3, codes_source="CHS-DRG 1.1",
        prefilter_fallbacks=2, prefilter_fallback_reason="columns: no such fact",
        chunk_fallbacks=1, chunk_fallback_reason="RuntimeError: boom",
        by_family={"split_hospitalization": 2, "upcoding": 1, "special_case": 1},
        family_labels={"special_case": "特例单议候选（重症监护资源消耗大）"},  # declared by its rule file
    )  # fmt: skip


def test_the_summary_warnings_and_families_in_chinese(
    chinese: None, capsys: pytest.CaptureFixture[str]
) -> None:
    print_summary(_summary_with_fallbacks())
    err = capsys.readouterr().err
    assert (
        "警告：列式预筛在 2 组患者上失败，已改按派生事实筛查（命中相同，较慢）；首个原因：columns: no such fact"
        in err
    )
    assert (
        "警告：1 组患者无法整组筛查，已逐个患者筛查（较慢；失败的患者会列出）；首个原因：RuntimeError: boom"
        in err
    )
    # Names padded by their width on a terminal (a Chinese character takes two cells): the counts line up.
    assert re.search(r"^  分解住院 {17}2$", err, re.M) and re.search(r"^  高编高套 {17}1$", err, re.M)
    assert re.search(r"^  特例单议候选 {13}1$", err, re.M)
    assert "warning" not in err and "split_hospitalization" not in err and "special_case" not in err


def test_the_summary_warnings_and_families_in_english(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(_summary_with_fallbacks())
    err = capsys.readouterr().err
    assert "warning: the columnar pre-filter failed on 2 chunk(s) of patients" in err
    assert "warning: 1 chunk(s) of patients could not be screened at once" in err
    # In English by the key the rule files write (`family: split_hospitalization`).
    assert re.search(r"^  split_hospitalization +2$", err, re.M) and re.search(r"^  upcoding +1$", err, re.M)
    assert re.search(r"^  special_case +1$", err, re.M)


def test_the_rollups_hospital_findings_in_chinese(chinese: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Under `queue rollup`'s table: English lines with state codes under zh_CN before."""
    from drgaudit.casebook.findings import FindingTally
    from drgaudit.cli.queue import _print_findings

    _print_findings([FindingTally("H001", "2025-03", {"open": 2, "accepted": 1}, 300.0, 100.0)])
    assert capsys.readouterr().out.splitlines() == [
        "医院疑点（暂缓支付、扣减类命中）按状态：",
        "  H001           2025-03 待医院答复 2，医院已认可 1；涉及金额 300.00 元，认定金额 100.00 元",
    ]


def test_rule_pack_versions_speak_chinese_under_zh_cn(chinese: None, tmp_path: Path) -> None:
    """`rules register/promote/unshadow/versions` and their refusals (PackError): English under zh_CN before."""
    db = f"sqlite:///{tmp_path / 'casebook.sqlite'}"

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, [*args, "--db", db])
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = run("rules", "register", "--user", "张审核")
    assert code == 0 and out.startswith("已登记：版本 ") and "个文件），张审核 于 " in out
    code, out, _ = run("rules", "promote", "#1", "--region", "510100", "--from", "2026-01-01")
    assert code == 0 and out.startswith("已提交 [上线申请 #1]：版本 ") and "510100 自 2026-01-01 起" in out
    code, out, _ = run("rules", "unshadow", "--region", "national", "--from", "2026-01-01")
    assert code == 0 and "不运行任何版本（停止影子运行）" in out
    code, out, _ = run("rules", "versions", "--on", "2026-01-02")
    assert code == 0 and "上线记录（2026-01-02 的状态）：" in out and "等待另一人确认（须 2 人确认）" in out
    code, _, err = run("rules", "promote", "#9", "--region", "510100", "--from", "2026-01-01")
    assert code == 1 and err.strip() == "error: 没有第 9 号规则包版本（见 `drgaudit rules versions`）"
    code, _, err = run("rules", "promote", "#1", "--region", "5101", "--from", "2026-01-01")
    assert code == 1 and "“5101”不是 6 位统筹区编码" in err
    code, _, err = run("rules", "promote", "#1", "--region", "510100", "--from", "2026-01-01")
    assert code == 1 and "还需另一人确认" in err and "second person" not in err


def test_listings_and_details_name_coded_values_in_chinese(chinese: None, tmp_path: Path) -> None:
    """Under zh_CN the review commands' tables and details show a coded value by its Chinese name (新案件,
    待医院答复, 影子运行), and their sentences are Chinese; json keeps the codes other tools match.
    (Only the column headings were Chinese before: the cells said new, high, open, deduct, active.)"""
    from drgaudit.demo.generator import generate

    demo = tmp_path / "demo"
    generate(demo, seed=42, claims=1000)
    db = str(tmp_path / "c.sqlite")

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "--db", db])
        assert result.exit_code == 0, result.output
        return result.stdout

    for kind in ("hospitals", "groups", "claims"):
        run("import", kind, str(demo / f"{kind}.csv"))
    run("screen", "--batch", "3")

    cases = json.loads(run("queue", "list", "--format", "json"))
    assert {c["status"] for c in cases} == {"new"} and {c["severity"] for c in cases} <= {
        "high",
        "medium",
        "low",
    }
    listed = run("queue", "list", "--limit", "3")
    assert listed.count("新案件") == 3 and " new " not in listed and " high " not in listed
    findings = run("findings", "list", "--limit", "2")
    assert findings.count("待医院答复") == 2 and " open " not in findings
    assert re.search(r"显示 2 条，共 \d+ 条$", findings.strip())
    batches = run("batches")
    assert "结算清单" in batches and "第 1 次筛查 完成" in batches and "run 1 done" not in batches

    first = cases[0]
    shown = run("queue", "show", str(first["id"])).splitlines()
    assert shown[0] == f"案件 {first['id']}  结算清单 {first['claim_id']}  新案件  版本 1"
    assert "命中：" in shown and "日志：" in shown
    assert any(line.startswith(f"涉及金额 {first['amount_at_risk']:,.2f}  严重程度 ") for line in shown)

    run(
        "meeting",
        "create",
        "--region",
        first["region"],
        "--date",
        "2099-01-04",
        "--capacity",
        "2",
        "--user",
        "王秘书",
    )
    added = run("meeting", "add", "1", "--fill", "--user", "王秘书")
    assert added.startswith("已排入案件 ") and "名额 " in added and "quota" not in added
    assert added.strip().endswith("第 1 次会议：已排 2 件，上限 2 件")
    minutes = run("meeting", "show", "1")
    assert (
        "议程：" in minutes and minutes.count("待议") == 2 and "未结束" in minutes and "agenda" not in minutes
    )

    verified = run("casebook", "verify").splitlines()
    assert verified[0].startswith("审计日志完整：共 ") and "（已签章，密钥来自 " in verified[0]
    assert re.match(r"审核数据表与日志一致：\d+ 件审核案件、1 次会议、2 个议程项$", verified[1]), verified

    opened = run(
        "assist", "request", first["claim_id"], "--question", "请核实是否挂床", "--user", "参保地经办"
    )
    assert opened.startswith("已发起协查 1：")
    assert "待答复" in run("assist", "list", "--all")

    run("rules", "register", "--user", "张审核")
    run(
        "rules", "promote", "#1", "--region", "510100", "--from", "2026-01-01", "--shadow", "--user", "张审核"
    )
    versions = run("rules", "versions", "--on", "2026-01-02")
    assert (
        "[草稿]" in versions
        and "  510100   影子运行   自 2026-01-01  " in versions
        and "待第二人确认" in versions
    )
    assert "shadow" not in versions and "draft" not in versions and "pending" not in versions
    listed_versions = json.loads(run("rules", "versions", "--on", "2026-01-02", "--format", "json"))
    assert listed_versions["rows"][0]["state"] == "draft"
    assert [(p["stage"], p["status"]) for p in listed_versions["promotions"]] == [("shadow", "pending")]


def test_the_impact_summary_in_chinese(chinese: None, tmp_path: Path) -> None:
    """`rules impact` under zh_CN: every line Chinese, and a sample's conditions in words (住院天数 ≥ 超长住院天数标准),
    as the impact report and the version page say them, not the rule text (English before)."""
    import shutil

    from drgaudit.demo.generator import generate
    from drgaudit.engine.loader import bundled_rules_dir

    demo = tmp_path / "demo"
    generate(demo, seed=42, claims=1000)
    db = str(tmp_path / "c.sqlite")
    for kind in ("hospitals", "groups", "claims"):
        assert runner.invoke(app, ["import", kind, str(demo / f"{kind}.csv"), "--db", db]).exit_code == 0
    assert runner.invoke(app, ["screen", "--batch", "3", "--db", db]).exit_code == 0
    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    stays = rules / "long_stay.yaml"
    stays.write_text(
        stays.read_text(encoding="utf-8").replace(
            "max_los_days: {default: 60,", "max_los_days: {default: 70,", 1
        ),
        encoding="utf-8",
    )
    done = runner.invoke(app, ["rules", "impact", str(rules), "--batch", "3", "--db", db])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0].startswith("规则变更影响评估：规则目录 ") and "对比 内置规则包（" in lines[0]
    assert re.match(
        r"命中：\d+ → \d+（新增 \+\d+，不再命中 -\d+，保留 \d+，其中 \d+ 条有变化）；涉及金额 ", lines[2]
    )
    sample = next(line for line in lines if line.startswith("例：LOS-001 不再命中 "))
    assert (
        "满足条件“住院天数 ≥ 超长住院天数标准”：成立 → 不成立" in sample
        and "参数“超长住院天数标准”：60 → 70" in sample
    )
    assert "los_days" not in done.stdout and "e.g." not in done.stdout
    for line in lines:
        assert re.search(r"[\u4e00-\u9fff]", line) or line.startswith("  "), line


def test_accounts_in_chinese(chinese: None, tmp_path: Path) -> None:
    """`users add/list/grant` under zh_CN: roles and statuses by their names (定点医疗机构, 正常), not
    `hospital:H001` and `active`; json keeps the codes."""
    db = str(tmp_path / "c.sqlite")

    def run(*args: str, password: str | None = None) -> str:
        stdin = None if password is None else password + "\n"
        result = runner.invoke(app, [*args, "--db", db], input=stdin)
        assert result.exit_code == 0, result.output
        return result.stdout

    made = run("users", "add", "admin", "--role", "admin", "--password-stdin", password="a long passphrase 1")
    assert made == "已创建账号 admin：系统管理员\n"
    run("users", "add", "h001", "--role", "hospital", "--hospital", "H001", "--password-stdin",
        "--user", "admin", password="a long passphrase 2")  # fmt: skip
    assert (
        run("users", "grant", "h001", "expert:510100", "--user", "admin")
        == "账号 h001：已授予 评审专家 510100\n"
    )
    listed = run("users", "list", "--user", "admin").splitlines()
    assert listed[0].split() == ["账号", "姓名", "状态", "最近登录", "角色"]
    assert listed[2].split() == ["h001", "h001", "正常", "-", "定点医疗机构", "H001、评审专家", "510100"]
    assert run("users", "disable", "h001", "--user", "admin") == "账号 h001 已停用\n"
    assert "已停用" in run("users", "list", "--user", "admin")
    records = json.loads(run("users", "list", "--format", "json", "--user", "admin"))
    assert records[1]["roles"] == ["hospital:H001", "expert:510100"] and records[1]["status"] == "disabled"


def test_the_demo_in_chinese(chinese: None, tmp_path: Path) -> None:
    """`drgaudit demo` under zh_CN: every line of its report Chinese, families by their names (those a rule file
    declares too: 挂床住院), actions by theirs (特例单议); it was English to the last line."""
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    done = runner.invoke(app, ["demo", "--claims", "1000", "--out", str(tmp_path / "demo"), "--db", db])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0].startswith("编码表：CHS-DRG 1.1")
    assert re.search(r"^  挂床住院 +植入 +\d+  相似病例 +\d+$", done.stdout, re.M)
    assert re.search(r"^  特例单议 +\d+ +[\d,]+\.\d\d$", done.stdout, re.M)
    assert re.search(
        r"^  违规类别 / 规则 +植入 +检出 +检出率 +命中 +正确 +准确率 +相似病例误判$", done.stdout, re.M
    )
    assert re.search(r"^植入病例 (\d+) 例，检出 \1 例；合规的相似病例被误判 0 例。$", done.stdout, re.M)
    for line in lines:
        assert re.search(r"[\u4e00-\u9fff]", line) or line.lstrip().startswith("drgaudit "), line
    assert "ghost_bed" not in done.stdout and "special_review" not in done.stdout
