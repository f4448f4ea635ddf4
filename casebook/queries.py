"""Reading the casebook for the screening engine: claims, hospitals, group tables and batches.

Every function is keyword-only, takes `session`, and hands out canonical records (the plain dicts of
docs/ARCHITECTURE.md "Canonical records", keyed by the DATA-CONTRACT field names). Claims of a patient
come ordered by admit_date, discharge_date, claim_id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

import sqlmodel
from sqlalchemy import Numeric, bindparam, case, func, select
from sqlmodel import Session

from drgaudit.casebook.bulk import LOOKUP_KEYS, lookup
from drgaudit.casebook.models import (
    BatchClaim,
    Claim,
    GroupEntry,
    Hospital,
    ImportBatch,
    RejectedRow,
    get_by_id,
    table_of,
)
from drgaudit.casebook.review_models import ReviewCase
from drgaudit.casebook.screening import FINISHED_STATUSES, CodeSet, ScreenHit, ScreenRun
from drgaudit.casebook.writers import CLAIM_FIELDS, claim_from_values
from drgaudit.contract import FIELDS_BY_KIND
from drgaudit.engine.columns import ClaimColumns
from drgaudit.engine.indicators import CC_MCC_DIGITS, SPLIT_DIGITS, CaseMix

_claim = table_of(Claim)
_batch_claim = table_of(BatchClaim)
_hospital = table_of(Hospital)
_group = table_of(GroupEntry)
_batch = table_of(ImportBatch)
_hit = table_of(ScreenHit)
_run = table_of(ScreenRun)

_CLAIM_COLUMNS = [_claim.c[name] for name in CLAIM_FIELDS]
_CLAIM_ORDER = (_claim.c.patient_id, _claim.c.admit_date, _claim.c.discharge_date, _claim.c.claim_id)
_HOSPITAL_FIELDS = tuple(f.name for f in FIELDS_BY_KIND["hospitals"])
_GROUP_FIELDS = tuple(f.name for f in FIELDS_BY_KIND["groups"])


def iter_batch_patients(
    *, session: Session, batch_id: int, chunk_patients: int = 1000
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each patient of a batch with that patient's claims in the batch, ordered by patient_id.

    Streams `chunk_patients` patients per query (keyset pagination on the batch's patient index), so
    memory is bounded by one chunk and the session may be used, even committed, between patients.
    A patient's claims are the batch's claims as stored now (with the newest content).
    """
    link = _batch_claim.c
    for patients in iter_batch_patient_ids(session=session, batch_id=batch_id, chunk_patients=chunk_patients):
        rows = session.execute(
            select(link.patient_id.label("batch_patient"), *_CLAIM_COLUMNS)
            .join(_claim, _claim.c.claim_id == link.claim_id)
            .where(link.batch_id == batch_id, link.patient_id >= patients[0], link.patient_id <= patients[-1])
            .order_by(link.patient_id, _claim.c.admit_date, _claim.c.discharge_date, _claim.c.claim_id)
        )
        for patient_id, group in groupby(rows, key=itemgetter(0)):
            yield patient_id, [claim_from_values(row[1:]) for row in group]


def claims_for_patients(
    *, session: Session, patient_ids: Iterable[str], since: date
) -> dict[str, list[dict[str, Any]]]:
    """All stored claims of these patients discharged on or after `since`, by patient.

    Every patient asked for is a key, with an empty list when there is no such claim.
    """
    wanted = sorted(set(patient_ids))
    found: dict[str, list[dict[str, Any]]] = {patient_id: [] for patient_id in wanted}
    for start in range(0, len(wanted), LOOKUP_KEYS):
        part = wanted[start : start + LOOKUP_KEYS]
        rows = session.execute(
            select(*_CLAIM_COLUMNS)
            .where(_claim.c.patient_id.in_(part), _claim.c.discharge_date >= since)
            .order_by(*_CLAIM_ORDER)
        )
        for row in rows:
            found[row.patient_id].append(claim_from_values(row))
    return found


def claim_columns(
    *,
    session: Session,
    batch_id: int,
    patient_ids: Sequence[str],
    since: date,
    fields: Iterable[str],
    records: bool = False,
) -> ClaimColumns:
    """The stored claims of these patients discharged on or after `since` (what `claims_for_patients`
    gives), as columns of the claim `fields` (`engine.columns.ClaimColumns`), each marked as a claim the
    batch delivered for that patient or not.

    Read with the driver's own cursor in one statement per `LOOKUP_KEYS` patients: no SQLAlchemy row
    and no Python record per claim (money as floats, dates as the driver gives them). With `records`,
    every claim field is read and the rows are kept, so that `ClaimColumns.records` makes some patients'
    claim records from them: the records `claims_for_patients` gives, without reading them again."""
    wanted = set(fields)
    names = list(CLAIM_FIELDS) if records else [name for name in CLAIM_FIELDS if name in wanted]
    connection = session.connection()
    dialect = connection.dialect.name
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    money = {c.name for c in _claim.c if isinstance(c.type, Numeric)}
    selected = ", ".join(
        f"CAST(c.{name} AS DOUBLE PRECISION)" if name in money and dialect != "sqlite" else f"c.{name}"
        for name in names
    )
    # SQLite answers in its index's order (by patient, then discharge) and would order by admission only
    # by sorting whole rows in a temporary B-tree (about a sixth of the read): the columns sort the few
    # patients whose rows are out of order instead (`sort_rows`). PostgreSQL keeps its collation's
    # order, the order `claims_for_patients` reads.
    order_by = (
        "" if dialect == "sqlite" else " ORDER BY c.patient_id, c.admit_date, c.discharge_date, c.claim_id"
    )
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    rows: list[Any] = []
    description: Sequence[Any] = ()
    wanted_ids = sorted(set(patient_ids))
    try:
        for start in range(0, len(wanted_ids), LOOKUP_KEYS):
            part = wanted_ids[start : start + LOOKUP_KEYS]
            # A claim is stored with the batch that last wrote it (`ClaimWriter` inserts or revises it and
            # links it to that batch under the patient it stores): the batch's link is looked up only for
            # the claims another batch wrote (a tenth of the read where the batch wrote them all).
            cursor.execute(
                f"SELECT {selected}, CASE WHEN c.batch_id = {mark} THEN TRUE ELSE EXISTS (SELECT 1"
                f" FROM batch_claim b WHERE b.batch_id = {mark} AND b.patient_id = c.patient_id"
                " AND b.claim_id = c.claim_id) END"
                f" FROM claim c WHERE c.patient_id IN ({', '.join([mark] * len(part))})"
                f" AND c.discharge_date >= {mark}{order_by}",
                [batch_id, batch_id, *part, since.isoformat() if dialect == "sqlite" else since],
            )
            rows.extend(cursor.fetchall())
            description = cursor.description
    finally:
        cursor.close()
    unordered = not order_by
    if not records:
        return ClaimColumns.from_rows(names, rows, sort_rows=unordered)
    record = _claim_record(connection.dialect, description) if rows else None
    return ClaimColumns.from_rows(names, rows, wanted=wanted, record=record, sort_rows=unordered)


def _claim_record(dialect: Any, description: Sequence[Any]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """How a row of every claim field read by the driver (as `claim_columns` reads them) becomes the
    canonical record that `claims_for_patients` makes of the same claim: each column's value goes through
    the result processor SQLAlchemy applies to that column's type and the driver's type code (on SQLite:
    dates from ISO text; on PostgreSQL none, money read as DOUBLE PRECISION being floats already)."""
    processors = []
    for index, name in enumerate(CLAIM_FIELDS):
        processor = _claim.c[name].type.dialect_impl(dialect).result_processor(dialect, description[index][1])
        if processor is not None:
            processors.append((index, processor))
    count = len(CLAIM_FIELDS)

    def record(row: Sequence[Any]) -> dict[str, Any]:
        values = list(row[:count])
        for index, processor in processors:
            values[index] = processor(values[index])
        return claim_from_values(values)

    return record


# One patient's claims, built once: a request screening one claim runs this on every call, and building
# the statement each time (and its cache key) costs several times what SQLite takes to answer it.
_PATIENT_CLAIMS = (
    select(*_CLAIM_COLUMNS)
    .where(_claim.c.patient_id == bindparam("patient_id"), _claim.c.discharge_date >= bindparam("since"))
    .order_by(*_CLAIM_ORDER)
)


def claims_of_patient(*, session: Session, patient_id: str, since: date) -> list[dict[str, Any]]:
    """One patient's stored claims discharged on or after `since` (what `claims_for_patients` gives for one)."""
    rows = session.connection().execute(_PATIENT_CLAIMS, {"patient_id": patient_id, "since": since})
    return [claim_from_values(row) for row in rows]


def iter_batch_patient_ids(
    *, session: Session, batch_id: int, chunk_patients: int = 1000
) -> Iterator[list[str]]:
    """The patients of a batch in patient_id order, a list of `chunk_patients` at a time (keyset pages)."""
    link = _batch_claim.c
    after: str | None = None
    while True:
        page = select(link.patient_id).where(link.batch_id == batch_id)
        if after is not None:
            page = page.where(link.patient_id > after)
        patients = list(
            session.execute(
                page.group_by(link.patient_id).order_by(link.patient_id).limit(chunk_patients)
            ).scalars()
        )
        if not patients:
            return
        yield patients
        after = patients[-1]


def batch_claim_ids(*, session: Session, batch_id: int, patient_ids: Iterable[str]) -> dict[str, set[str]]:
    """The claims a batch delivered for these patients, by patient."""
    wanted = sorted(set(patient_ids))
    found: dict[str, set[str]] = {patient_id: set() for patient_id in wanted}
    link = _batch_claim.c
    for start in range(0, len(wanted), LOOKUP_KEYS):
        rows = session.execute(
            select(link.patient_id, link.claim_id).where(
                link.batch_id == batch_id, link.patient_id.in_(wanted[start : start + LOOKUP_KEYS])
            )
        )
        for patient_id, claim_id in rows:
            found[patient_id].add(claim_id)
    return found


def batch_admit_range(*, session: Session, batch_id: int) -> tuple[date, date] | None:
    """The earliest and latest admission date of a batch's claims, or None for an empty batch."""
    link = _batch_claim.c
    row = session.execute(
        select(func.min(_claim.c.admit_date), func.max(_claim.c.admit_date))
        .join(_batch_claim, link.claim_id == _claim.c.claim_id)
        .where(link.batch_id == batch_id)
    ).first()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


class BatchSpan(NamedTuple):
    """A batch's treatment regions (`batch_regions`) and its claims' admission range (`batch_admit_range`)."""

    regions: list[str]
    admits: tuple[date, date] | None


def batch_span(*, session: Session, batch_id: int) -> BatchSpan:
    """`batch_regions` and `batch_admit_range` of a batch in one pass over its claims: each is a join of
    every claim of the batch (about 1 s at a million claims, before a screen can start), the grouping
    by region costs a fraction of a second pass."""
    link, region, admit = _batch_claim.c, _claim.c.treatment_region, _claim.c.admit_date
    rows = session.execute(
        select(region, func.min(admit), func.max(admit))
        .join(_batch_claim, link.claim_id == _claim.c.claim_id)
        .where(link.batch_id == batch_id)
        .group_by(region)
        .order_by(region)
    ).all()
    firsts = [first for _, first, _ in rows if first is not None]
    lasts = [last for _, _, last in rows if last is not None]
    return BatchSpan([row[0] for row in rows], (min(firsts), max(lasts)) if firsts else None)


def batch_case_mix(*, session: Session, batch_id: int) -> list[CaseMix]:
    """Per hospital: the batch's cross-region claims in a severity-split DRG group, and how many claim CC/MCC.

    The definition is `engine.indicators.cc_mcc_class`, written in SQL (a test checks that both agree).
    """
    c, link = _claim.c, _batch_claim.c
    last_digit = func.substr(c.group_code, func.length(c.group_code), 1)
    claims_with_cc = func.sum(case((last_digit.in_(CC_MCC_DIGITS), 1), else_=0))
    rows = session.execute(
        select(c.hospital_id, func.count(), claims_with_cc)
        .join(_batch_claim, link.claim_id == c.claim_id)
        .where(
            link.batch_id == batch_id,
            c.payment_scheme == "DRG",
            c.insured_region != c.treatment_region,
            c.group_code.is_not(None),
            last_digit.in_(SPLIT_DIGITS),
        )
        .group_by(c.hospital_id)
        .order_by(c.hospital_id)
    )
    return [CaseMix(hospital_id, int(cases), int(with_cc or 0)) for hospital_id, cases, with_cc in rows]


def places_of_claims(*, session: Session, claim_ids: Iterable[str]) -> dict[str, tuple[str, str, str]]:
    """(hospital, treatment region, insured region) of each stored claim among `claim_ids` (claims not
    stored are left out): whose claim it is, for the access policy."""
    wanted = sorted(set(claim_ids))
    found: dict[str, tuple[str, str, str]] = {}
    c = _claim.c
    for start in range(0, len(wanted), LOOKUP_KEYS):
        part = wanted[start : start + LOOKUP_KEYS]
        rows = session.execute(
            select(c.claim_id, c.hospital_id, c.treatment_region, c.insured_region).where(
                c.claim_id.in_(part)
            )
        )
        found.update({row[0]: (row[1], row[2], row[3]) for row in rows})
    return found


def latest_batch_of_claim(*, session: Session, claim_id: str) -> int | None:
    """The most recent import batch that brought this claim, or None."""
    link = _batch_claim.c
    latest: int | None = session.execute(
        select(func.max(link.batch_id)).where(link.claim_id == claim_id)
    ).scalar_one()
    return latest


def get_claim(*, session: Session, claim_id: str) -> dict[str, Any] | None:
    """One stored claim by id, or None."""
    row = session.execute(select(*_CLAIM_COLUMNS).where(_claim.c.claim_id == claim_id)).first()
    return None if row is None else claim_from_values(row)


def load_hospitals(*, session: Session) -> dict[str, dict[str, Any]]:
    """Every hospital, by hospital_id."""
    rows = session.execute(select(*(_hospital.c[name] for name in _HOSPITAL_FIELDS)))
    return {row.hospital_id: dict(row._mapping) for row in rows}


def load_groups(*, session: Session) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Group entries by (region, scheme, group_code), from the newest imported version of each region+scheme.

    The newest version of a region and scheme is the one whose entries were last written by an import
    (the highest batch id). Each record carries its `version` besides the contract fields.
    """
    newest = (
        select(_group.c.region, _group.c.scheme, _group.c.version, func.max(_group.c.batch_id).label("last"))
        .group_by(_group.c.region, _group.c.scheme, _group.c.version)
        .subquery()
    )
    latest = (
        select(newest.c.region, newest.c.scheme, func.max(newest.c.last).label("last"))
        .group_by(newest.c.region, newest.c.scheme)
        .subquery()
    )
    chosen = (
        select(newest.c.region, newest.c.scheme, newest.c.version)
        .join(
            latest,
            (latest.c.region == newest.c.region)
            & (latest.c.scheme == newest.c.scheme)
            & (latest.c.last == newest.c.last),
        )
        .subquery()
    )
    rows = session.execute(
        select(*(_group.c[name] for name in _GROUP_FIELDS), _group.c.version)
        .join(
            chosen,
            (chosen.c.region == _group.c.region)
            & (chosen.c.scheme == _group.c.scheme)
            & (chosen.c.version == _group.c.version),
        )
        .order_by(_group.c.region, _group.c.scheme, _group.c.group_code)
    )
    return {(row.region, row.scheme, row.group_code): dict(row._mapping) for row in rows}


def get_batch(*, session: Session, batch_id: int) -> ImportBatch | None:
    """One import batch, or None when there is no batch with that id."""
    return get_by_id(session, ImportBatch, batch_id)


def list_batches(*, session: Session) -> list[ImportBatch]:
    """Every import batch, oldest first."""
    return list(session.exec(sqlmodel.select(ImportBatch).order_by(sqlmodel.col(ImportBatch.id))).all())


def batches_by_region(*, session: Session, regions: frozenset[str], inside: bool) -> set[int]:
    """The batches holding a claim treated in one of `regions` (`inside`), or outside all of them."""
    link = _batch_claim.c
    region = _claim.c.treatment_region
    rows = session.execute(
        select(link.batch_id)
        .join(_claim, link.claim_id == _claim.c.claim_id)
        .where(region.in_(sorted(regions)) if inside else region.not_in(sorted(regions)))
        .distinct()
    )
    return set(rows.scalars())


def batch_regions(*, session: Session, batch_id: int) -> list[str]:
    """The treatment regions of a batch's claims."""
    link = _batch_claim.c
    rows = session.execute(
        select(_claim.c.treatment_region)
        .join(_batch_claim, link.claim_id == _claim.c.claim_id)
        .where(link.batch_id == batch_id)
        .distinct()
        .order_by(_claim.c.treatment_region)
    )
    return list(rows.scalars())


def claims_in_period(
    *, session: Session, start: date, end: date, region: str | None = None
) -> list[tuple[str, str, int]]:
    """(claim_id, patient_id, newest batch that delivered it) of the claims discharged from `start` to `end`
    (both inclusive), optionally only of one treatment region; ordered by batch, patient, claim."""
    c, link = _claim.c, _batch_claim.c
    query = (
        select(c.claim_id, c.patient_id, func.max(link.batch_id))
        .join(_batch_claim, link.claim_id == c.claim_id)
        .where(c.discharge_date >= start, c.discharge_date <= end)
        .group_by(c.claim_id, c.patient_id)
    )
    if region is not None:
        query = query.where(c.treatment_region == region)
    rows = [(claim_id, patient_id, int(batch)) for claim_id, patient_id, batch in session.execute(query)]
    rows.sort(key=lambda row: (row[2], row[1], row[0]))
    return rows


def reference_fingerprint(*, session: Session, exclude_sources: str) -> tuple[Any, ...]:
    """What a long-running screener's reference data depends on, in one cheap query.

    The newest hospitals/groups import, the newest loaded code set, and the newest finished screen of a
    claims batch whose source does not start with `exclude_sources` (that batch's hospital indicators
    are the ones used). Equal fingerprints mean the reference data has not changed.
    """
    run = table_of(ScreenRun).c
    code_set = table_of(CodeSet).c
    reference = select(func.max(_batch.c.id)).where(_batch.c.kind.in_(("hospitals", "groups")))
    codes = select(func.max(code_set.id))
    screened = select(func.max(run.id)).where(
        run.status.in_(FINISHED_STATUSES),
        run.batch_id.is_not(None),
        run.source.not_like(f"{exclude_sources}%"),
    )
    row = session.execute(
        select(reference.scalar_subquery(), codes.scalar_subquery(), screened.scalar_subquery())
    ).first()
    return tuple(row) if row is not None else ()


def latest_screened_batch(*, session: Session, exclude_sources: str) -> int | None:
    """The claims batch of the newest finished screen whose source does not start with `exclude_sources`."""
    run = table_of(ScreenRun).c
    row = session.execute(
        select(run.batch_id)
        .where(
            run.status.in_(FINISHED_STATUSES),
            run.batch_id.is_not(None),
            run.source.not_like(f"{exclude_sources}%"),
        )
        .order_by(run.id.desc())
        .limit(1)
    ).first()
    return None if row is None else row[0]


_MONITORED = (
    "claim_id", "patient_id", "hospital_id", "insured_region", "treatment_region", "admit_date",
    "discharge_date", "payment_scheme", "group_code", "total_cost",
)  # fmt: skip


def earliest_admission(*, session: Session, first: date, last: date) -> date | None:
    """The earliest admission date of the claims discharged from `first` to `last`, or None."""
    c = _claim.c
    query = select(func.min(c.admit_date)).where(c.discharge_date >= first, c.discharge_date <= last)
    value = session.execute(query).scalar()
    return value if isinstance(value, date) else None


def claims_discharged_between(
    *, session: Session, first: date, last: date, region: str | None = None
) -> list[dict[str, Any]]:
    """The claims discharged from `first` to `last` (of one treatment region, or all) with the fields the
    monitoring report reads (`total_cost` as float), ordered by patient, hospital, admission, claim."""
    c = _claim.c
    query = select(*(c[name] for name in _MONITORED)).where(
        c.discharge_date >= first, c.discharge_date <= last
    )
    if region:
        query = query.where(c.treatment_region == region)
    rows = session.execute(query.order_by(c.patient_id, c.hospital_id, c.admit_date, c.claim_id))
    return [{**row._mapping, "total_cost": float(row.total_cost)} for row in rows]


def claim_hits(*, session: Session, claim_id: str, batch_id: int) -> dict[str, ScreenHit]:
    """The screen hits of one claim in one batch, by rule id."""
    rows = session.exec(
        sqlmodel.select(ScreenHit).where(ScreenHit.claim_id == claim_id, ScreenHit.batch_id == batch_id)
    )
    return {hit.rule_id: hit for hit in rows}


def hospital_names(*, session: Session, hospital_ids: Iterable[str]) -> dict[str, str]:
    """The name of each stored hospital among `hospital_ids` (hospitals not stored are left out)."""
    columns = (_hospital.c.hospital_id, _hospital.c.name)
    rows = lookup(session.connection(), columns, _hospital.c.hospital_id, sorted(set(hospital_ids)))
    return {code: name or "" for code, name in rows}


def hospitals_of_claims(*, session: Session, claim_ids: Iterable[str]) -> dict[str, str]:
    """The hospital of each stored claim among `claim_ids` (claims not stored are left out)."""
    wanted = sorted(set(claim_ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), LOOKUP_KEYS):
        part = wanted[start : start + LOOKUP_KEYS]
        rows = session.execute(
            select(_claim.c.claim_id, _claim.c.hospital_id).where(_claim.c.claim_id.in_(part))
        )
        found.update({claim_id: hospital for claim_id, hospital in rows})
    return found


def hospital_hits(
    *,
    session: Session,
    hospital_id: str,
    batch_id: int | None = None,
    first: date | None = None,
    last: date | None = None,
) -> list[Any]:
    """The hits on a hospital's claims (of one batch, and/or discharged from `first` to `last`) with the
    claim's own fields, by discharge date, claim, newest batch first, then hit order."""
    hit, c = _hit.c, _claim.c
    query = (
        select(
            hit.batch_id, hit.claim_id, hit.patient_id, hit.rule_id, hit.family, hit.severity, hit.action,
            hit.amount_at_risk, hit.message, hit.evidence, c.patient_id.label("claim_patient"), c.admit_date,
            c.discharge_date, c.group_code, c.total_cost, c.insured_region, c.treatment_region,
        )
        .join(_claim, c.claim_id == hit.claim_id)
        .where(c.hospital_id == hospital_id)
        .order_by(c.discharge_date, hit.claim_id, hit.batch_id.desc(), hit.ordinal)
    )  # fmt: skip
    if batch_id is not None:
        query = query.where(hit.batch_id == batch_id)
    if first is not None:
        query = query.where(c.discharge_date >= first)
    if last is not None:
        query = query.where(c.discharge_date <= last)
    return list(session.execute(query))


def review_cases_of_claims(
    *, session: Session, hospital_id: str, claim_ids: Iterable[str]
) -> dict[str, ReviewCase]:
    """A hospital's review cases of these claims, by claim id."""
    wanted = list(dict.fromkeys(claim_ids))
    found: dict[str, ReviewCase] = {}
    for start in range(0, len(wanted), LOOKUP_KEYS):
        part = wanted[start : start + LOOKUP_KEYS]
        rows = session.exec(
            sqlmodel.select(ReviewCase).where(
                ReviewCase.hospital_id == hospital_id, sqlmodel.col(ReviewCase.claim_id).in_(part)
            )
        )
        found.update({case.claim_id: case for case in rows})
    return found


# ---------------------------------------------------------------------------------------------------
# A batch's screening summary (reports/summary.py)


def rejected_rows(*, session: Session, batch_id: int) -> list[RejectedRow]:
    """The rejected rows of a batch (one per reason), in the file's order."""
    query = (
        sqlmodel.select(RejectedRow)
        .where(RejectedRow.batch_id == batch_id)
        .order_by(sqlmodel.col(RejectedRow.row), sqlmodel.col(RejectedRow.id))
    )
    return list(session.exec(query).all())


def latest_runs(*, session: Session) -> dict[int, ScreenRun]:
    """The newest screen run of each batch that has one (whatever its status), by batch id."""
    newest = (
        select(func.max(_run.c.id))
        .where(_run.c.batch_id.is_not(None))
        .group_by(_run.c.batch_id)
        .scalar_subquery()
    )
    runs = session.exec(sqlmodel.select(ScreenRun).where(sqlmodel.col(ScreenRun.id).in_(newest)))
    return {run.batch_id: run for run in runs if run.batch_id is not None}


def latest_finished_run(*, session: Session, batch_id: int) -> ScreenRun | None:
    """The newest screen run of a batch that finished (done, or partial), or None."""
    query = (
        sqlmodel.select(ScreenRun)
        .where(ScreenRun.batch_id == batch_id, sqlmodel.col(ScreenRun.status).in_(FINISHED_STATUSES))
        .order_by(sqlmodel.col(ScreenRun.id).desc())
    )
    return session.exec(query).first()


def rule_evidence_samples(*, session: Session, batch_id: int) -> list[tuple[str, Any]]:
    """(rule id, evidence) of the first stored hit of each rule of a batch (the evidence names the rule)."""
    hit = _hit.c
    first = select(func.min(hit.id)).where(hit.batch_id == batch_id).group_by(hit.rule_id)
    return [(rule_id, evidence) for rule_id, evidence in session.execute(
        select(hit.rule_id, hit.evidence).where(hit.id.in_(first))
    )]  # fmt: skip


def batch_claim_places(
    *, session: Session, batch_id: int, region: str | None = None
) -> list[tuple[str, str, bool]]:
    """(hospital id, treatment region, cross-region?) of every claim of a batch (treated in `region`)."""
    c, link = _claim.c, _batch_claim.c
    query = select(c.hospital_id, c.treatment_region, _cross()).join(
        _batch_claim, link.claim_id == c.claim_id
    ).where(link.batch_id == batch_id)  # fmt: skip
    if region:
        query = query.where(c.treatment_region == region)
    return [(hospital_id, treatment, bool(cross)) for hospital_id, treatment, cross in session.execute(query)]


class BatchHit(NamedTuple):
    """A stored hit of a batch with the place of its claim, as the screening summary counts it."""

    claim_id: str
    patient_id: str
    rule_id: str
    family: str
    severity: str
    action: str
    amount_at_risk: float | None
    message: str
    hospital_id: str
    cross: bool


def batch_hits_with_place(*, session: Session, batch_id: int, region: str | None = None) -> list[BatchHit]:
    """The stored hits of a batch in screening order, with their claim's hospital and whether it is
    cross-region (only claims treated in `region` when given)."""
    hit, c = _hit.c, _claim.c
    query = select(
        hit.claim_id, hit.patient_id, hit.rule_id, hit.family, hit.severity, hit.action, hit.amount_at_risk,
        hit.message, c.hospital_id, _cross(),
    ).join(_claim, c.claim_id == hit.claim_id).where(hit.batch_id == batch_id).order_by(hit.ordinal)  # fmt: skip
    if region:
        query = query.where(c.treatment_region == region)
    return [
        BatchHit(claim_id, patient_id, rule_id, family, severity, action, amount, message, hospital_id, bool(cross))
        for claim_id, patient_id, rule_id, family, severity, action, amount, message, hospital_id, cross
        in session.execute(query)
    ]  # fmt: skip


def _cross() -> Any:
    c = _claim.c
    return (c.insured_region != c.treatment_region).label("cross")
