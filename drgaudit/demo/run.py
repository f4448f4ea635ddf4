"""`run_demo`: generate the demo province and load it into the casebook (what `drgaudit demo` does)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session, col

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import ImportReport, import_file
from drgaudit.casebook.screening import ScreenHit, import_code_tables
from drgaudit.demo.codes import bundled_codes_dir
from drgaudit.demo.generator import DEFAULT_CLAIMS, DEFAULT_SEED, DemoManifest, generate, read_manifest
from drgaudit.demo.scenarios import PLANTED_RULES
from drgaudit.demo.score import Scorecard, ScoredHit, score
from drgaudit.services.screening import ScreenSummary, screen_batch
from drgaudit.settings import database_url

# Who the casebook records as the importer of the demo files.
IMPORTED_BY = "drgaudit demo"
# Version label of the demo's group table in the casebook (the table is the same for every seed).
GROUPS_VERSION = "demo"
IMPORT_KINDS: tuple[str, ...] = ("hospitals", "groups", "claims")

# progress(stage, done, total): stage is "generate" (claims written of claims asked), one of
# IMPORT_KINDS (thousandths of the file read) or "screen" (claims screened of claims imported).
DemoProgress = Callable[[str, int, int], None]


@dataclass
class DemoResult:
    """What a demo run made: the generated folder and the import batches in the casebook."""

    manifest: DemoManifest
    codes_dir: Path | None
    database_url: str
    imports: dict[str, ImportReport] = field(default_factory=dict)
    screen: ScreenSummary | None = None
    score: Scorecard | None = None
    reused: bool = False  # the folder already held this demo; it was not generated again
    seconds: dict[str, float] = field(default_factory=dict)  # generate, import, screen, score

    @property
    def claims_batch_id(self) -> int:
        batch_id = self.imports["claims"].batch_id
        assert batch_id is not None, "the demo's claims were all rejected"
        return batch_id


def run_demo(
    out_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    claims: int = DEFAULT_CLAIMS,
    codes_dir: Path | None = None,
    db_url: str | None = None,
    progress: DemoProgress | None = None,
    workers: int = 1,
    reuse: bool = False,
    rules_dir: Path | None = None,
) -> DemoResult:
    """Generate the demo into `out_dir`, import hospitals.csv, groups.csv and claims.csv into the casebook,
    screen the claims batch with the bundled rules (same code tables as the generator), store the hits,
    and score them against truth.csv.

    With `reuse`, a folder whose manifest.json names the same seed, size and code tables is not generated
    again (importing it again changes nothing; it is screened again). `rules_dir` screens with another
    pack than the one the demo was built from (its boundary cases stay at the bundled pack's values).
    """

    def generation(done: int, total: int) -> None:
        if progress is not None:
            progress("generate", done, total)

    started = time.perf_counter()
    manifest = read_manifest(out_dir, seed=seed, claims=claims, codes_dir=codes_dir) if reuse else None
    reused = manifest is not None
    if manifest is None:
        manifest = generate(out_dir, seed=seed, claims=claims, codes_dir=codes_dir, progress=generation)
    url = database_url(db_url)
    result = DemoResult(manifest=manifest, codes_dir=codes_dir, database_url=url, reused=reused)
    result.seconds["generate"] = time.perf_counter() - started
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            started = time.perf_counter()
            for kind in IMPORT_KINDS:
                result.imports[kind] = import_file(
                    manifest.path(f"{kind}.csv"),
                    kind=kind,
                    session=session,
                    imported_by=IMPORTED_BY,
                    version=GROUPS_VERSION if kind == "groups" else None,
                    progress=_import_progress(progress, kind),
                )
            if codes_dir is not None:
                # Later screens and `drgaudit explain` of the demo then use the same code tables.
                import_code_tables(session=session, directory=codes_dir, imported_by=IMPORTED_BY)
            result.seconds["import"] = time.perf_counter() - started
            started = time.perf_counter()
            result.screen = screen_batch(
                session=session,
                batch_id=result.claims_batch_id,
                rules_dir=rules_dir,
                # The tables the claims were generated from, whatever else the casebook has loaded.
                codes_dir=codes_dir or bundled_codes_dir(),
                workers=workers,
                progress=(lambda done, total: progress("screen", done, total)) if progress else None,
            )
            result.seconds["screen"] = time.perf_counter() - started
            started = time.perf_counter()
            result.score = score(
                manifest.path("truth.csv"),
                stored_hits(session=session, batch_id=result.claims_batch_id),
                rule_order=PLANTED_RULES,
            )
            result.seconds["score"] = time.perf_counter() - started
    finally:
        engine.dispose()
    return result


def stored_hits(*, session: Session, batch_id: int) -> list[ScoredHit]:
    """The casebook's hits of a batch, as scoring needs them."""
    query = select(
        col(ScreenHit.claim_id),
        col(ScreenHit.rule_id),
        col(ScreenHit.family),
        col(ScreenHit.action),
        col(ScreenHit.amount_at_risk),
    ).where(col(ScreenHit.batch_id) == batch_id)
    return [ScoredHit(c, r, f, a, float(m or 0)) for c, r, f, a, m in session.execute(query)]


def _import_progress(progress: DemoProgress | None, kind: str) -> Callable[[int, float], None] | None:
    if progress is None:
        return None

    def report(_rows: int, fraction: float) -> None:
        progress(kind, round(fraction * 1000), 1000)

    return report
