"""The source documents a rule pack cites (`rules/references.yaml`) and the citations of its rules.

Every rule's `reference` names one or more `document article` pairs (e.g. `川医保办发〔2025〕18号 六（四）`):
the document by its id in references.yaml, the article by its key there. `rules check` refuses a
citation that does not resolve and prints a table of the citations by document. A document of kind
`practice` is not a notice: it stands for the common DRG/DIP practice a rule relies on where the
notices are silent, and citing it says so.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.suggest import did_you_mean
from drgaudit.engine.typedyaml import validate
from drgaudit.engine.yamlsource import Position, YamlDocument

REFERENCES_FILE = "references.yaml"
# A rule that cites common practice only says so in its description with this word.
PRACTICE_WORD = "通行做法"
KINDS: dict[str, str] = {
    "notice": "政策文件",
    "standard": "技术标准与规范",
    "practice": "通行做法（非通知条款）",
}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Article(_Strict):
    """One article of a document: what it obliges, and the words to look for in the text."""

    title: str = Field(min_length=1, description="条款载明的义务（概述）")
    phrase: str | None = Field(default=None, description="原文中载明该义务的用语，供核对")


class Document(_Strict):
    """One source document: number or name, title, issuer, date, kind and its articles."""

    id: str = Field(min_length=1, description="文号或简称，规则的 reference 以它开头")
    title: str = Field(min_length=1, description="文件标题")
    issuer: str = Field(min_length=1, description="发文机关")
    date: dt.date | None = Field(default=None, description="发文日期")
    kind: Literal["notice", "standard", "practice"] = Field(
        description="notice 政策文件、standard 技术标准与规范、practice 通行做法（非通知条款）"
    )
    articles: dict[str, Article] = Field(min_length=1, description="条款：键为条款序号或原文用语")

    @field_validator("id")
    @classmethod
    def _one_word(cls, value: str) -> str:
        if any(ch.isspace() for ch in value):
            raise ValueError(f"a document id is one word (no spaces), got {value!r}")
        return value


class ReferencesFile(_Strict):
    """rules/references.yaml."""

    documents: list[Document] = Field(min_length=1, description="规则包引用的文件")


@dataclass(frozen=True)
class Citation:
    """One `document article` pair as a rule writes it, with where it is written."""

    document: str
    article: str
    position: Position

    @property
    def text(self) -> str:
        return f"{self.document} {self.article}".strip()


def parse_citations(
    value: Any, position: Position, item_positions: list[Position] | None
) -> tuple[tuple[Citation, ...], list[RuleFileError]]:
    """The citations of a rule's `reference`: one `document article` text, or a list of them."""
    items = value if isinstance(value, list) else [value]
    positions = item_positions if isinstance(value, list) and item_positions else [position] * len(items)
    citations: list[Citation] = []
    errors: list[RuleFileError] = []
    if not items:
        errors.append(RuleFileError(position, "`reference` must name at least one document and article"))
    for item, where in zip(items, positions, strict=False):
        if not isinstance(item, str) or not item.strip():
            errors.append(
                RuleFileError(
                    where,
                    "a reference is written `document article`, e.g. 川医保办发〔2025〕18号 六（四）",
                )
            )
            continue
        document, _, article = item.strip().partition(" ")
        citations.append(Citation(document, article.strip(), where))
    return tuple(citations), errors


@dataclass(frozen=True)
class References:
    """The documents of a pack, by id."""

    documents: dict[str, Document]
    path: str
    # What `describe` and `render` give, per citation(s): every hit of a rule cites the same documents.
    _described: dict[Citation, dict[str, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _rendered: dict[tuple[Citation, ...], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def resolve(self, citation: Citation) -> RuleFileError | None:
        """None when the citation names a document and one of its articles, else the located error."""
        document = self.documents.get(citation.document)
        if document is None:
            return RuleFileError(
                citation.position,
                f"reference `{citation.text}`: no document `{citation.document}` in {REFERENCES_FILE}",
                did_you_mean(citation.document, self.documents)
                or "write `document article` with a document id of references.yaml",
                code="lint",
            )
        if not citation.article:
            return RuleFileError(
                citation.position,
                f"reference `{citation.text}` names no article of {citation.document}",
                f"one of: {', '.join(document.articles)}",
                code="lint",
            )
        if citation.article not in document.articles:
            return RuleFileError(
                citation.position,
                f"reference `{citation.text}`: {citation.document} has no article `{citation.article}` in {REFERENCES_FILE}",
                did_you_mean(citation.article, document.articles)
                or f"one of: {', '.join(document.articles)}",
                code="lint",
            )
        return None

    def describe(self, citation: Citation) -> dict[str, Any]:
        """A resolved citation as a hit's evidence shows it (title, issuer, article and what it says)."""
        described = self._described.get(citation)
        if described is None:
            document = self.documents[citation.document]
            article = document.articles[citation.article]
            described = self._described[citation] = {
                "document": document.id,
                "title": document.title,
                "issuer": document.issuer,
                "kind": document.kind,
                "article": citation.article,
                "obligation": article.title,
            }
        return dict(described)  # a hit's own copy

    def render(self, citations: tuple[Citation, ...]) -> str:
        """The citations as one line for a letter: `《标题》（文号）条款；…`, practice marked as such."""
        rendered = self._rendered.get(citations)
        if rendered is None:
            rendered = self._rendered[citations] = self._render(citations)
        return rendered

    def _render(self, citations: tuple[Citation, ...]) -> str:
        parts = []
        for citation in citations:
            document = self.documents.get(citation.document)
            if document is None:
                parts.append(citation.text)
            elif document.kind == "practice":
                parts.append(f"{document.title}：{document.articles[citation.article].title}")
            else:
                number = f"（{document.id}）" if document.id.endswith("号") else ""
                parts.append(f"《{document.title}》{number}{_article(citation.article)}")
        return "；".join(parts)

    def by_document(
        self, rules: list[tuple[str, tuple[Citation, ...]]]
    ) -> list[tuple[Document, list[tuple[str, list[str]]]]]:
        """Every document with, per article, the rules citing it (documents and articles in file order)."""
        table = []
        for document in self.documents.values():
            rows = []
            for article in document.articles:
                citing = sorted(
                    {
                        rule_id
                        for rule_id, cites in rules
                        for c in cites
                        if (c.document, c.article) == (document.id, article)
                    }
                )
                rows.append((article, citing))
            table.append((document, rows))
        return table

    def table(self, rules: list[tuple[str, tuple[Citation, ...]]]) -> list[str]:
        """`rules check`'s table: each document, each article with the rules citing it."""
        lines = [f"references by document ({self.path}):"]
        for document, rows in self.by_document(rules):
            when = f", {document.date.isoformat()}" if document.date else ""
            lines.append(
                f"  {document.id}  《{document.title}》 {document.issuer}{when} [{KINDS[document.kind]}]"
            )
            for article, rule_ids in rows:
                lines.append(f"    {article}: {', '.join(rule_ids) if rule_ids else '— (no rule cites it)'}")
        return lines


def _article(key: str) -> str:
    """An article as a letter cites it: a numbered one as is (六（四）), one named by its words in quotes."""
    return key if NUMBERED.match(key) else f"“{key}”"


NUMBERED = re.compile(r"^[（(]?[一二三四五六七八九十百\d]+[）)、]?([（(][一二三四五六七八九十\d]+[）)])?$")


def references_from_document(doc: YamlDocument, errors: list[RuleFileError]) -> References | None:
    """The documents of references.yaml, typed (every problem appended to `errors` with its position)."""
    parsed = validate(ReferencesFile, doc.data, root=Position(doc.path, 1, 1), errors=errors)
    if parsed is None:
        return None
    documents: dict[str, Document] = {}
    items = doc.data["documents"]
    for index, document in enumerate(parsed.documents):
        if document.id in documents:
            errors.append(RuleFileError(items.item_at(index), f"document `{document.id}` is listed twice"))
        documents[document.id] = document
    return References(documents, doc.path)
