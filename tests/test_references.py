"""Rules cite documents and articles of rules/references.yaml; hits carry the citations in full."""

from __future__ import annotations

from pathlib import Path

import pytest

from drgaudit.engine.loader import read_pack
from drgaudit.engine.screen import Screener, screen_claims
from tests.engine_support import bundled, claim, group, hospital, reference


@pytest.fixture(scope="module")
def pack_and_codes():
    return bundled()


def test_every_bundled_rule_cites_documents_that_resolve(pack_and_codes) -> None:
    pack, _ = pack_and_codes
    assert pack.references is not None
    for rule in pack.rules:
        assert rule.citations, rule.id
        assert all(pack.references.resolve(c) is None for c in rule.citations), rule.id


def test_citations_render_as_a_letter_quotes_them(pack_and_codes) -> None:
    pack, _ = pack_and_codes
    refs = pack.references
    by_id = {rule.id: rule for rule in pack.rules}
    assert (
        refs.render(by_id["COACH-001"].citations)
        == "《国家医疗保障局关于进一步加强医疗保障定点医疗机构管理的通知》“政策辅导期”"
    )
    assert refs.render(by_id["COST-001"].citations) == (
        "《关于开展省内异地就医住院费用纳入按病种付费管理工作的通知》（川医保办发〔2025〕18号）六（四）；"
        "《国家医疗保障局关于进一步加强医疗保障定点医疗机构管理的通知》（六）"
    )
    assert refs.render(by_id["LOWADM-001"].citations).startswith(
        "DRG/DIP 付费与医保审核的通行做法（五份政策文件未规定具体口径，由地方实施细则确定）："
    )


def test_a_hit_carries_its_citations(pack_and_codes) -> None:
    pack, codes = pack_and_codes
    ref = reference(pack, codes, [hospital("H1")], [group("ES35")])
    [hit] = screen_claims(Screener(pack, ref), [claim(outside_purchase=800.0)])
    assert hit.rule_id == "COST-002"
    rule = hit.evidence["rule"]
    assert rule["reference"] == "《国家医疗保障局关于进一步加强医疗保障定点医疗机构管理的通知》（六）"
    assert rule["citations"] == [
        {
            "document": "国家医保局定点医疗机构管理通知（2025）",
            "title": "国家医疗保障局关于进一步加强医疗保障定点医疗机构管理的通知",
            "issuer": "国家医疗保障局",
            "kind": "notice",
            "article": "（六）",
            "obligation": "不得要求参保人院外购买药品耗材，院外购买的费用计入病例费用",
        }
    ]


def test_every_hit_of_a_rule_holds_one_rule_part_made_once(pack_and_codes) -> None:
    """The rule part of the evidence is made once per rule and held by all its hits (so a chunk's hits
    pickle it once), and is what the rule says, as built for the first hit."""
    import pickle

    pack, codes = pack_and_codes
    ref = reference(pack, codes, [hospital("H1")], [group("ES35")])
    claims = [claim(claim_id=f"C{i}", patient_id=f"P{i}", outside_purchase=800.0 + i) for i in range(3)]
    hits = screen_claims(Screener(pack, ref), claims)
    assert [hit.rule_id for hit in hits] == ["COST-002"] * 3
    first = hits[0].evidence["rule"]
    assert all(hit.evidence["rule"] is first for hit in hits)
    assert first["id"] == "COST-002" and first["file"].endswith(".yaml") and first["citations"]
    again = pickle.loads(pickle.dumps(hits))
    assert again[1].evidence["rule"] is again[2].evidence["rule"] and again[1].evidence["rule"] == first
    [other] = screen_claims(Screener(pack, ref), claims[:1])  # another Screener: the same part, by value
    assert other.evidence == hits[0].evidence


def test_a_pack_without_references_or_with_a_broken_one_is_refused(tmp_path: Path) -> None:
    import shutil

    from drgaudit.engine.loader import bundled_rules_dir

    folder = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), folder, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    (folder / "references.yaml").unlink()
    check = read_pack(folder)
    assert check.pack is None
    assert [e.message for e in check.errors] == ["references.yaml is missing: the documents the rules cite"]
    (folder / "references.yaml").write_text("documents:\n  - id: 某通知\n    title: x\n", encoding="utf-8")
    messages = [e.render().replace(str(folder) + "/", "") for e in read_pack(folder).errors]
    assert "references.yaml:2:5: `documents.0.issuer` is missing (发文机关)" in messages
    assert (
        "references.yaml:2:5: `documents.0.kind` is missing (notice 政策文件、standard 技术标准与规范、practice 通行做法（非通知条款）)"
        in messages
    )
