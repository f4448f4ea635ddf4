"""The columnar pre-filter (`engine.columns`: facts computed over columns read straight from the casebook,
before any claim's facts are derived) is as sound as the pre-filter on derived facts: every fact it computes
equals the derived one, and a stored screen gives the same hits with it, without it (the pre-filter on
derived facts) and with no pre-filter at all."""

from __future__ import annotations

import datetime as dt
import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from sqlmodel import Session

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.contract import CLAIM_FIELDS, LIST_SEPARATOR
from drgaudit.engine import parallel
from drgaudit.engine.columns import ClaimColumns, ColumnFacts
from drgaudit.engine.facts import patient_facts, sort_key
from drgaudit.engine.pack import RulePack
from drgaudit.engine.prefilter import Col, DictSource, Unsupported
from drgaudit.engine.screen import Candidates, Screener
from drgaudit.engine.vocabulary import FACTS, NUMBER
from drgaudit.services.screening import ScreenSummary, screen_batch
from tests.engine_support import bundled, reference
from tests.presettlement_support import write_csv
from tests.test_prefilter import _generated_pack, _world

NAMES = [f.name for f in CLAIM_FIELDS]
CLAIM_NAMES = tuple(NAMES)
WINDOWS = (15, 30, 90, 365)


def _edges(claims: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Values at the edges of the column arithmetic: no cost, no group code, unknown hospital and codes."""
    rnd = random.Random(seed)
    for c in claims:
        roll = rnd.random()
        if roll < 0.05:
            c["total_cost"] = 0.0
        elif roll < 0.1:
            c["group_code"] = rnd.choice((None, "", "0000", "ESQY"))
        elif roll < 0.13:
            c["hospital_id"] = "H-unknown"
        elif roll < 0.16:
            c["secondary_dx"] = ["XX9.999", "XX9.999", "J15.900"]
            c["procedures"] = ["99.9999"]
    return claims


def _stored(value: Any) -> Any:
    """A canonical value as the casebook stores it and SQLite's driver gives it back."""
    if isinstance(value, list):
        return LIST_SEPARATOR.join(value) if value else None
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _same(name: str, got: Col, want: Col, n: int) -> None:
    got_valid = np.broadcast_to(got.valid, (n,))
    want_valid = np.broadcast_to(want.valid, (n,))
    assert (got_valid == want_valid).all(), f"{name}: missing values differ"
    rows = np.flatnonzero(want_valid)
    a = np.broadcast_to(np.asarray(got.values, dtype=object), (n,))[rows].tolist()
    b = np.broadcast_to(np.asarray(want.values, dtype=object), (n,))[rows].tolist()
    if want.kind == NUMBER or got.kind == NUMBER:
        if got.exact:  # the pre-filter compares an exact column without tolerance
            assert [float(x) for x in a] == [float(y) for y in b], f"{name}: {a[:5]} != {b[:5]}"
        else:
            close = np.isclose(np.array(a, dtype=float), np.array(b, dtype=float), rtol=1e-12, atol=0.0)
            assert close.all(), f"{name}: {a[:5]} != {b[:5]}"
    else:
        assert a == b, f"{name}: {[(x, y) for x, y in zip(a, b, strict=True) if x != y][:5]}"


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_every_column_fact_equals_the_derived_fact(seed: int) -> None:
    pack, codes = bundled()
    claims, hospitals, groups = _world(seed, patients=120)
    claims = _edges(claims, seed)
    ref = reference(pack, codes, hospitals, groups)
    rnd = random.Random(seed)
    targets = {c["claim_id"] for c in claims if rnd.random() < 0.7}
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for c in claims:
        by_patient.setdefault(c["patient_id"], []).append(c)
    facts = [f for pid in sorted(by_patient) for f in patient_facts(by_patient[pid], targets, ref, WINDOWS)]
    rows = [[_stored(c.get(name)) for name in NAMES] + [c["claim_id"] in targets] for c in claims]
    rnd.shuffle(rows)  # the columns sort themselves as the facts are sorted
    columns = ClaimColumns.from_rows(NAMES, rows)
    assert columns.values["claim_id"].tolist() == [f["claim_id"] for f in facts]
    assert columns.target.tolist() == [f["target"] for f in facts]
    assert columns.seq.tolist() == [f["seq"] for f in facts]
    source, derived = ColumnFacts(columns, ref), DictSource(facts)
    computed = []
    keys = [(fact.key, fact.type) for fact in FACTS.values()]
    keys += [(f"@admissions:{days}", NUMBER) for days in WINDOWS]
    for key, kind in keys:
        try:
            got = source.column(key, kind)
        except Unsupported:
            continue
        _same(key, got, derived.column(key, kind), len(facts))
        computed.append(key)
    # The facts the bundled rules read most are computed from columns, not left to the derived path.
    for key in ("los_days", "cost_ratio", "high_ratio_limit", "mcc_count", "self_share", "admissions_90d"):
        assert key in computed
    assert len(computed) >= 90, sorted({k for k, _ in keys} - set(computed))


@pytest.mark.parametrize("seed", [24, 25])
def test_the_columnar_prefilter_keeps_every_claim_a_rule_fires_on(seed: int) -> None:
    """Rule by rule, every claim the evaluator fires a single-claim rule on is kept by that rule's
    pre-filter over columns: also where the columns only bound a value (episodes_within, by the
    admissions in its window)."""
    from drgaudit.engine.prefilter import CUR, Frame
    from tests.test_prefilter import _fires

    pack, codes = bundled()
    claims, hospitals, groups = _world(seed, patients=150)
    ref = reference(pack, codes, hospitals, groups)
    screener = Screener(pack, ref)
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for c in claims:
        by_patient.setdefault(c["patient_id"], []).append(c)
    derived = {f["claim_id"]: f for pid in by_patient for f in screener.prepare(pid, by_patient[pid]).facts}
    columns = ClaimColumns.from_rows(
        NAMES, [[_stored(c.get(name)) for name in NAMES] + [True] for c in claims]
    )
    facts = [derived[claim_id] for claim_id in columns.values["claim_id"].tolist()]  # in the columns' order
    base = Frame(ColumnFacts(columns, ref))
    keys = np.array([pack.profile_key(f["treatment_region"]) for f in facts], dtype=object)
    fired: dict[str, int] = {}
    for key in sorted(set(keys.tolist())):
        rows = np.flatnonzero(keys == key)
        for rule in screener._profile(key).prefilter.rules:
            if rule.pair:
                continue
            upper = rule.upper({CUR: Frame(base.source, base, rows)}, len(rows))
            name = rule.compiled.bound.rule.id
            for i, row in enumerate(rows.tolist()):
                if _fires(rule, facts[row], None):
                    fired[name] = fired.get(name, 0) + 1
                    assert upper[i], (name, facts[row]["claim_id"])
    assert fired.get("FREQ-001", 0) + fired.get("FREQ-002", 0) > 0  # the world reaches episodes_within
    assert len(screener.candidate_ids(columns)) < 0.9 * len(claims)


def _casebook(url: str, tmp_path: Path, seed: int, patients: int) -> tuple[str, int]:
    """A casebook holding a random world: ~30% of the claims in an earlier batch (history)."""
    claims, hospitals, groups = _world(seed, patients)
    claims = _edges(claims, seed)
    claims = [c for c in claims if c["hospital_id"] != "H-unknown"]
    rnd = random.Random(seed)
    history = [c for c in claims if rnd.random() < 0.3]
    batch = [c for c in claims if c not in history]
    engine = make_engine(url)
    with Session(engine) as session:
        for kind, records in (("hospitals", hospitals), ("groups", groups)):
            import_file(write_csv(tmp_path / f"{kind}.csv", kind, records), kind=kind, session=session)
        import_file(write_csv(tmp_path / "history.csv", "claims", history), kind="claims", session=session)
        result = import_file(
            write_csv(tmp_path / "batch.csv", "claims", batch), kind="claims", session=session
        )
    engine.dispose()
    return url, result.batch_id


def _screen(url: str, batch_id: int, pack: RulePack, *, prefilter: bool) -> tuple[str, int, int]:
    """The JSONL hits of a screen, the claims it sent to durable-rules and the batch's claims."""
    engine = make_engine(url)
    out = io.StringIO()
    with Session(engine) as session:
        summary = screen_batch(
            session=session, batch_id=batch_id, pack=pack, output=out, store=False, prefilter=prefilter
        )
    engine.dispose()
    return out.getvalue(), summary.candidates, summary.claims


def _spy(patched: pytest.MonkeyPatch) -> list[int]:
    """The number of candidates each call of `Screener.candidate_ids` (the columnar pre-filter) keeps."""
    filtered: list[int] = []
    candidate_ids = Screener.candidate_ids

    def spy(self: Screener, *args: Any) -> set[str]:
        found = candidate_ids(self, *args)
        filtered.append(len(found))
        return found

    patched.setattr(Screener, "candidate_ids", spy)
    return filtered


def _three_ways(
    url: str, batch_id: int, pack: RulePack, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, int, int]:
    """The hits of a screen with the columnar pre-filter (which must have run), the claims it kept and
    the batch's claims; the same hits with the pre-filter on derived facts and with no pre-filter."""
    with monkeypatch.context() as patched:
        filtered = _spy(patched)
        columnar, kept, claims = _screen(url, batch_id, pack, prefilter=True)
    assert sum(filtered) == kept  # the columns chose every candidate (no chunk fell back)
    with monkeypatch.context() as patched:
        patched.setattr(parallel, "_columnar", lambda screener, loader: False)
        on_facts, kept_on_facts, _ = _screen(url, batch_id, pack, prefilter=True)
    unfiltered, _, _ = _screen(url, batch_id, pack, prefilter=False)
    assert columnar == on_facts == unfiltered
    # The columns compute a subset of the derived facts (the rest keeps the claim): never fewer kept.
    assert kept_on_facts <= kept <= claims
    return columnar, kept, claims


@pytest.mark.parametrize("seed", [31, 32])
def test_a_stored_batch_gives_the_same_hits_with_the_columnar_prefilter(
    db_url: str, tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack, _ = bundled()
    url, batch_id = _casebook(db_url, tmp_path, seed, patients=150)
    hits, kept, claims = _three_ways(url, batch_id, pack, monkeypatch)
    assert hits.count("\n") > 30  # the world reaches the rules
    assert kept < claims  # and the pre-filter drops some claims


def test_generated_packs_give_the_same_hits_with_the_columnar_prefilter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = _generated_pack(tmp_path, 103, count=30)
    assert sum(r.id.startswith("GEN-") for r in pack.rules) >= 10
    url, batch_id = _casebook(f"sqlite:///{tmp_path / 'casebook.sqlite'}", tmp_path, 103, patients=100)
    assert _three_ways(url, batch_id, pack, monkeypatch)[0]


def _screen_logging_warnings(
    url: str, batch_id: int, pack: RulePack, caplog: pytest.LogCaptureFixture
) -> tuple[ScreenSummary, io.StringIO]:
    """A batch screen in chunks of 25 patients, hits not stored, the parallel module's warnings captured."""
    engine = make_engine(url)
    out = io.StringIO()
    with caplog.at_level("WARNING", logger="drgaudit.engine.parallel"), Session(engine) as session:
        summary = screen_batch(
            session=session, batch_id=batch_id, pack=pack, output=out, store=False, chunk_patients=25
        )
    engine.dispose()
    return summary, out


def test_a_chunk_the_columnar_prefilter_fails_on_is_logged_counted_and_screened_the_plain_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A chunk whose columns cannot be filtered is screened on its derived facts (the same hits), and
    that is not silent: a warning is logged and the run's summary counts the chunk with its reason."""
    pack, _ = bundled()
    url, batch_id = _casebook(f"sqlite:///{tmp_path / 'casebook.sqlite'}", tmp_path, 33, patients=60)
    columnar, _, _ = _screen(url, batch_id, pack, prefilter=True)

    def broken(self: Screener, columns: ClaimColumns) -> set[str]:
        raise ValueError("a column the pre-filter did not expect")

    monkeypatch.setattr(Screener, "candidate_ids", broken)
    summary, out = _screen_logging_warnings(url, batch_id, pack, caplog)
    assert out.getvalue() == columnar
    chunks = -(-summary.patients // 25)
    assert chunks >= 2 and summary.prefilter_fallbacks == chunks  # every chunk of 25 patients fell back
    assert summary.prefilter_fallback_reason == "ValueError: a column the pre-filter did not expect"
    warnings = [r for r in caplog.records if "columnar pre-filter failed" in r.getMessage()]
    assert len(warnings) == chunks and "a column the pre-filter did not expect" in warnings[0].getMessage()


def test_a_chunk_that_cannot_be_screened_at_once_is_logged_counted_and_screened_patient_by_patient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault of the chunk way itself (no patient's data at fault) leaves the same hits, screened patient
    by patient, and is not silent: before, only the screen's speed showed it (found during issue 17)."""
    pack, _ = bundled()
    url, batch_id = _casebook(f"sqlite:///{tmp_path / 'casebook.sqlite'}", tmp_path, 33, patients=60)
    whole, _, _ = _screen(url, batch_id, pack, prefilter=True)

    def broken(self: Screener, *args: Any, **kwargs: Any) -> list[Any]:
        raise KeyError("_s7")

    monkeypatch.setattr(Screener, "screen_patients", broken)
    summary, out = _screen_logging_warnings(url, batch_id, pack, caplog)
    assert out.getvalue() == whole and not summary.failed
    chunks = -(-summary.patients // 25)
    assert chunks >= 2 and summary.chunk_fallbacks == chunks
    assert summary.chunk_fallback_reason == "KeyError: '_s7'"
    warnings = [r for r in caplog.records if "at once failed" in r.getMessage()]
    assert len(warnings) == chunks and "'_s7'" in warnings[0].getMessage()


def test_a_chunk_without_batch_claims_has_no_candidates() -> None:
    """An empty chunk, and a chunk of context claims only, send nothing to durable-rules."""
    pack, codes = bundled()
    claims, hospitals, groups = _world(7, patients=5)
    screener = Screener(pack, reference(pack, codes, hospitals, groups))
    empty = ClaimColumns.from_rows(NAMES, [])
    assert screener.candidate_ids(empty) == set()
    context = ClaimColumns.from_rows(NAMES, [[_stored(c.get(n)) for n in NAMES] + [False] for c in claims])
    assert screener.candidate_ids(context) == set()


def test_an_impact_preview_gives_the_same_result_with_the_columnar_prefilter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drgaudit.reports.periods import parse_period
    from drgaudit.services.impact import ImpactRequest, rules_impact
    from tests.test_rules_impact import pack_with_los

    url, batch_id = _casebook(f"sqlite:///{tmp_path / 'casebook.sqlite'}", tmp_path, 41, patients=150)
    new = pack_with_los(tmp_path, 25)
    requests = [
        ImpactRequest(new_dir=new, batch_id=batch_id, samples=0),
        ImpactRequest(new_dir=new, period=parse_period("2025"), region="510100", samples=0),
    ]

    def previews() -> list[tuple[Any, ...]]:
        engine = make_engine(url)
        with Session(engine) as session:
            results = [rules_impact(session=session, request=request) for request in requests]
        engine.dispose()
        return [(sorted(r.added), sorted(r.removed), r.case_counts, r.stored) for r in results]

    with monkeypatch.context() as patched:
        filtered = _spy(patched)
        columnar = previews()
    assert filtered and sum(filtered) > 0  # the columnar pre-filter chose the candidates
    with monkeypatch.context() as patched:
        patched.setattr(parallel, "_columnar", lambda screener, loader: False)
        assert previews() == columnar
    assert columnar[0][0]  # stays of 25 days and more become hits


@pytest.mark.parametrize("generated", [False, True])
def test_the_columnar_prefilter_routes_each_claim_into_the_rulesets_that_can_fire_on_it(
    tmp_path: Path, generated: bool
) -> None:
    """`candidate_ids` routes every kept claim, and no durable-rules match of a claim (every claim run
    through every ruleset) is in a ruleset it was routed away from: the bundled pack, and generated rules
    near thresholds spread over three or more rulesets."""
    from tests.test_prefilter import _check_routes

    pack, codes = bundled()
    if generated:
        pack = _generated_pack(tmp_path, 106, count=30)
    claims, hospitals, groups = _world(44, patients=120)
    screener = Screener(pack, reference(pack, codes, hospitals, groups))
    assert len(screener._profile("national").runtime.ruleset_names) >= (3 if generated else 2)
    columns = ClaimColumns.from_rows(NAMES, [[_stored(c.get(n)) for n in NAMES] + [True] for c in claims])
    candidates = screener.candidate_ids(columns)
    assert set(candidates) == set(candidates.routes)
    matches, away = _check_routes(screener, claims, candidates.routes)
    assert matches > 30 and away > 0


def test_candidates_of_two_screeners_merge_their_routes() -> None:
    """As a PackRouter or an impact preview's two sides merge them: routes add up, and a claim kept
    without a route on either side goes into every ruleset (it has no route)."""
    first = Candidates({"1", "2"}, {"1": frozenset({"a0"}), "2": frozenset({"a1"})})
    second = Candidates({"2", "3"}, {"2": frozenset({"b0"}), "3": frozenset({"b1"})})
    merged = first | second
    assert merged == {"1", "2", "3"}
    assert merged.routes == {"1": {"a0"}, "2": {"a1", "b0"}, "3": {"b1"}}
    plain = first | {"2", "4"}
    assert plain == {"1", "2", "4"} and plain.routes == {"1": {"a0"}}
    assert ({"2", "4"} | first).routes == plain.routes
    kept = Candidates()
    kept |= first
    kept |= second
    assert kept == merged and kept.routes == merged.routes


@pytest.mark.parametrize("since", [dt.date(2000, 1, 1), dt.date(2025, 4, 1)])
def test_the_rows_read_for_the_prefilter_give_the_records_the_loader_reads(
    db_url: str, tmp_path: Path, since: dt.date
) -> None:
    """Each chunk is read once: the candidates' claims are made from the rows of the columns, and they
    are the records the loader would read (same values, types and key order, batch claims and context
    apart, in the same order), also for an impact loader that keeps only some batch claims."""
    from drgaudit.services.impact import ImpactLoader
    from drgaudit.services.screening import BatchLoader

    url, batch_id = _casebook(db_url, tmp_path, 34, patients=120)
    engine = make_engine(url)
    with Session(engine) as session:
        ids = sorted({p for p, _ in session.execute(text("SELECT patient_id, claim_id FROM batch_claim"))})
        some = frozenset(session.execute(text("SELECT claim_id FROM batch_claim")).scalars().all()[::3])
        loaders = [
            BatchLoader(url, batch_id, since, session),
            ImpactLoader(url, batch_id, since, session, region="510100"),
            ImpactLoader(url, batch_id, since, session, only=some),
        ]
        for loader in loaders:
            for part in (ids[:50], ids[50:]):
                columns = loader.columns(part, {"claim_id", "total_cost"})
                records = columns.records(part)
                assert records is not None
                read = {p.patient_id: (p.batch, p.history) for p in loader(part)}
                for patient, (batch, history) in records.items():
                    want_batch, want_history = read.get(patient, ([], None))
                    assert _typed(batch) == _typed(want_batch)
                    if want_history is not None:  # an impact loader leaves out patients with no claim
                        if isinstance(loader, ImpactLoader):  # it puts the claims it leaves out last
                            history = sorted(history, key=lambda c: want_history.index(c))
                        assert _typed(history) == _typed(want_history)
    engine.dispose()


def test_a_stay_that_starts_earlier_and_ends_later_is_read_in_claim_order(
    db_url: str, tmp_path: Path
) -> None:
    """SQLite reads a chunk in its index's order (by discharge) and the columns sort it: a patient whose
    last discharged claim was admitted first still gets its claims, columns and kept rows alike, in claim
    order, and the records the loader reads."""
    from drgaudit.services.screening import BatchLoader

    url, batch_id = _casebook(db_url, tmp_path, 36, patients=60)
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.execute(
            text(
                "SELECT patient_id, claim_id, admit_date FROM claim ORDER BY patient_id, discharge_date, claim_id"
            )
        ).all()
        by_patient: dict[str, list[Any]] = {}
        for patient, claim_id, admit in rows:
            by_patient.setdefault(patient, []).append((claim_id, dt.date.fromisoformat(str(admit))))
        moved = [claims[-1][0] for claims in by_patient.values() if len(claims) > 1]
        for claims in by_patient.values():
            if len(claims) > 1:  # admitted before every other stay of the patient, discharged last
                first = min(admit for _, admit in claims) - dt.timedelta(days=1)
                value = first.isoformat() if engine.dialect.name == "sqlite" else first
                session.execute(
                    text("UPDATE claim SET admit_date = :admit WHERE claim_id = :claim"),
                    {"admit": value, "claim": claims[-1][0]},
                )
        session.commit()
        assert len(moved) >= 5
        ids = sorted(by_patient)
        loader = BatchLoader(url, batch_id, dt.date(2000, 1, 1), session)
        columns = loader.columns(ids, {"claim_id", "total_cost"})
        records = columns.records(ids)
        assert records is not None
        read = {p.patient_id: (p.batch, p.history) for p in loader(ids)}
        assert {p: (_typed(b), _typed(h)) for p, (b, h) in records.items()} == {
            p: (_typed(b), _typed(h)) for p, (b, h) in read.items()
        }
        in_order = [c["claim_id"] for p in ids for c in sorted(sum(records[p], []), key=sort_key)]
        assert columns.values["claim_id"].tolist() == in_order
        firsts = {records[p][0][0]["claim_id"] if records[p][0] else None for p in ids} | {
            records[p][1][0]["claim_id"] if records[p][1] else None for p in ids
        }
        assert set(moved) & firsts  # the moved claims now come first
    engine.dispose()


def test_claims_delivered_again_are_batch_claims_of_every_batch_that_delivered_them(
    db_url: str, tmp_path: Path
) -> None:
    """A claim written by an earlier batch and delivered again, unchanged or revised, by a later one is a
    batch claim (a target of the columns) of both, as their links say; a claim of one batch only is
    context in the other."""
    from drgaudit.casebook import queries

    claims, hospitals, groups = _world(37, patients=60)
    first, second = claims[: len(claims) // 2], claims[len(claims) // 3 :]
    second = [dict(c, total_cost=c["total_cost"] + 1.0) if i % 2 else c for i, c in enumerate(second)]
    url = db_url
    engine = make_engine(url)
    with Session(engine) as session:
        for kind, records in (("hospitals", hospitals), ("groups", groups)):
            import_file(write_csv(tmp_path / f"{kind}.csv", kind, records), kind=kind, session=session)
        batches = [
            import_file(
                write_csv(tmp_path / f"b{i}.csv", "claims", part), kind="claims", session=session
            ).batch_id
            for i, part in enumerate((first, second))
        ]
        again = {c["claim_id"] for c in first} & {c["claim_id"] for c in second}
        assert len(again) > 10
        patients = sorted({c["patient_id"] for c in claims})
        for batch_id, part in zip(batches, (first, second), strict=True):
            columns = queries.claim_columns(
                session=session, batch_id=batch_id, patient_ids=patients, since=dt.date(2000, 1, 1),
                fields={"claim_id"}, records=True,
            )  # fmt: skip
            linked = queries.batch_claim_ids(session=session, batch_id=batch_id, patient_ids=patients)
            targets = set(columns.values["claim_id"][columns.target].tolist())
            assert targets == set().union(*linked.values())
            assert targets <= {c["claim_id"] for c in part} and len(targets & again) > 10
    engine.dispose()


# Rows as a chunk's query may give them, out of (patient, discharge) order: patient, claim, admission,
# discharge, and whether the claim is a target.
_UNORDERED_NAMES = ["patient_id", "claim_id", "admit_date", "discharge_date"]
_UNORDERED_ROWS = [
    (p, c, d, d, t)
    for p, c, d, t in (
        ("P2", "C3", "2025-03-01", True),
        ("P1", "C2", "2025-02-01", False),
        ("P2", "C1", "2025-01-01", False),
        ("P1", "C4", "2025-01-01", True),
    )
]


def test_rows_read_in_no_order_are_kept_in_the_columns_order() -> None:
    names, read = _UNORDERED_NAMES, _UNORDERED_ROWS
    columns = ClaimColumns.from_rows(names, read, record=lambda row: {"claim_id": row[1]}, sort_rows=True)
    assert columns.order is None and [row[1] for row in columns.rows or ()] == ["C4", "C2", "C1", "C3"]
    assert columns.records(["P1", "P2"]) == {
        "P1": ([{"claim_id": "C4"}], [{"claim_id": "C2"}]),
        "P2": ([{"claim_id": "C3"}], [{"claim_id": "C1"}]),
    }
    columns.restrict_targets(columns.values["claim_id"] != "C3")
    assert columns.records(["P2"]) == {"P2": ([], [{"claim_id": "C1"}, {"claim_id": "C3"}])}  # sorted
    plain = ClaimColumns.from_rows(names, read, sort_rows=True)
    assert plain.rows is None and plain.values["claim_id"].tolist() == ["C4", "C2", "C1", "C3"]


def _typed(claims: list[dict[str, Any]]) -> list[list[tuple[str, type, Any]]]:
    return [[(key, type(value), value) for key, value in claim.items()] for claim in claims]


def test_a_columnar_screen_reads_no_claim_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidates' partitions come from the rows the pre-filter's columns were read from."""
    from drgaudit.services.screening import BatchLoader

    pack, _ = bundled()
    url, batch_id = _casebook(f"sqlite:///{tmp_path / 'casebook.sqlite'}", tmp_path, 35, patients=80)
    before = _screen(url, batch_id, pack, prefilter=True)
    assert before[0] == _screen(url, batch_id, pack, prefilter=False)[0]
    assert before[0].count("\n") > 10 and before[1] < before[2]

    def read_again(self: BatchLoader, patient_ids: list[str]) -> list[Any]:
        raise AssertionError("the chunk's claims were read a second time")

    monkeypatch.setattr(BatchLoader, "__call__", read_again)
    assert _screen(url, batch_id, pack, prefilter=True) == before


def test_kept_rows_give_records_in_the_order_read_with_the_targets_of_now() -> None:
    names, read = _UNORDERED_NAMES, _UNORDERED_ROWS
    columns = ClaimColumns.from_rows(names, read, record=lambda row: {"claim_id": row[1]})
    assert columns.order is not None  # the columns sorted the rows
    assert columns.values["claim_id"].tolist() == ["C4", "C2", "C1", "C3"]
    assert columns.records(["P1", "P2", "P3"]) == {
        "P1": ([{"claim_id": "C4"}], [{"claim_id": "C2"}]),
        "P2": ([{"claim_id": "C3"}], [{"claim_id": "C1"}]),
        "P3": ([], []),
    }
    columns.restrict_targets(columns.values["claim_id"] != "C3")
    assert columns.records(["P2"]) == {"P2": ([], [{"claim_id": "C3"}, {"claim_id": "C1"}])}  # as read
    assert ClaimColumns.from_rows(names, read).records(["P1"]) is None  # rows not kept
