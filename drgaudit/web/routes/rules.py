"""The rules in force (规则): which pack version screens each region the account may see, each rule with
the region's parameter values, and one rule with its description, conditions and examples."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from drgaudit.services import rulebook
from drgaudit.services.access import NotFound, Principal
from drgaudit.services.labels import name
from drgaudit.services.settlement import known_regions
from drgaudit.services.warm import WarmEngine
from drgaudit.web.deps import DB, require
from drgaudit.web.forms import text
from drgaudit.web.templating import render

router = APIRouter()
Reader = Annotated[Principal, Depends(require(rulebook.RULES_VIEW))]


def _warm(request: Request) -> WarmEngine:
    """The service's packs by region: the API's (`drgaudit serve` mounts it), else one of the pages' own."""
    state = request.app.state
    if getattr(state, "warm", None) is None:
        state.warm = WarmEngine(rules_dir=state.settings.rules_dir)
    warm: WarmEngine = state.warm
    return warm


def _region(request: Request, session: DB, me: Principal) -> tuple[list[str], str]:
    """The regions the account may read and the one asked for (`?region=`, else the first)."""
    regions = rulebook.visible_regions(principal=me, regions=known_regions(session=session))
    asked = text(request.query_params.get("region"))
    if asked is not None and asked not in regions:
        raise NotFound(f"no rules of region {asked}")
    if not regions:
        raise NotFound("no region whose rules this account may read")
    return regions, asked or regions[0]


@router.get("/rules")
def rules_page(request: Request, session: DB, me: Reader) -> Response:
    """The pack that screens a region and its rules in force there, with the region's parameter values."""
    regions, region = _region(request, session, me)
    found = rulebook.region_pack(session=session, engine=_warm(request), region=region)
    lines = rulebook.rules_of_region(found.pack, region) if found.pack is not None else []
    words = request.app.state.reference.get(session).words
    return render(
        request, "rules.html",
        {"regions": regions, "region": region, "found": found, "lines": lines, "words": words, "name": name},
    )  # fmt: skip


@router.get("/rules/{rule_id}")
def rule_page(request: Request, rule_id: str, session: DB, me: Reader) -> Response:
    """One rule as the region applies it: what it checks, on what basis, its parameters and examples."""
    _regions, region = _region(request, session, me)
    found, lines = rulebook.rule_in_region(
        session=session, engine=_warm(request), principal=me, region=region, rule_id=rule_id
    )
    words = request.app.state.reference.get(session).words
    return render(
        request, "rule.html", {"region": region, "found": found, "lines": lines, "words": words, "name": name}
    )
