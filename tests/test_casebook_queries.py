"""The read API for the screening engine: batches walked by patient, patients' claims, reference tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.ingest import import_file
from drgaudit.ingest.rows import RowConverter


def canonical(raw: dict) -> dict:
    record = RowConverter("claims", "x")(2, raw)
    assert isinstance(record, dict), record
    return record


@pytest.fixture
def two_batches(session: Session, make_claim, write_rows, tmp_path: Path) -> tuple[int, int]:
    old = [make_claim(n) for n in range(30)]
    first = import_file(write_rows(tmp_path / "old.csv", old), kind="claims", session=session)
    # Patient P00002 (claims 6-8) comes again with claim 7 changed, plus a new stay; P00011 is new.
    new = [
        make_claim(34, patient_id="P00011"),
        make_claim(8),
        make_claim(7, total_cost="9000.00"),
        make_claim(31, patient_id="P00002", admit_date="2024-12-01", discharge_date="2024-12-03"),
        make_claim(33, patient_id="P00011", admit_date="2025-01-01", discharge_date="2025-01-02"),
    ]
    second = import_file(write_rows(tmp_path / "new.csv", new), kind="claims", session=session)
    return first.batch_id, second.batch_id


def test_iter_batch_patients(session: Session, two_batches, make_claim) -> None:
    _first, second = two_batches
    patients = list(queries.iter_batch_patients(session=session, batch_id=second))
    assert [p for p, _claims in patients] == ["P00002", "P00011"]
    assert [c["claim_id"] for c in patients[0][1]] == ["C000031", "C000007", "C000008"]
    assert [c["claim_id"] for c in patients[1][1]] == ["C000033", "C000034"]
    assert patients[0][1][1] == canonical(make_claim(7, total_cost="9000.00"))


@pytest.mark.parametrize("chunk", [1, 2, 7])
def test_iter_batch_patients_in_chunks(session: Session, two_batches, chunk: int) -> None:
    first, _second = two_batches
    walked = list(queries.iter_batch_patients(session=session, batch_id=first, chunk_patients=chunk))
    assert [p for p, _c in walked] == [f"P{n:05d}" for n in range(10)]
    assert sum(len(c) for _p, c in walked) == 30
    for _patient, claims in walked:
        keys = [(c["admit_date"], c["discharge_date"], c["claim_id"]) for c in claims]
        assert keys == sorted(keys)


def test_iter_unknown_batch_is_empty(session: Session) -> None:
    assert list(queries.iter_batch_patients(session=session, batch_id=99)) == []


def test_claims_for_patients(session: Session, two_batches) -> None:
    found = queries.claims_for_patients(
        session=session, patient_ids=["P00002", "P00011", "P99999"], since=date(2024, 1, 1)
    )
    assert {p: [c["claim_id"] for c in claims] for p, claims in found.items()} == {
        "P00002": ["C000031", "C000006", "C000007", "C000008"],
        "P00011": ["C000033", "C000034"],
        "P99999": [],
    }
    later = queries.claims_for_patients(session=session, patient_ids=["P00002"], since=date(2025, 1, 15))
    assert [c["claim_id"] for c in later["P00002"]] == ["C000007", "C000008"]
    assert later["P00002"][0]["total_cost"] == 9000.0
    assert later["P00002"][0]["secondary_dx"] == ["I21.000"]


def test_get_and_list_batches(session: Session, two_batches) -> None:
    first, second = two_batches
    batches = queries.list_batches(session=session)
    assert [b.id for b in batches] == [first, second]
    batch = queries.get_batch(session=session, batch_id=second)
    assert (batch.file_name, batch.rows_new, batch.rows_unchanged, batch.rows_revised) == ("new.csv", 3, 1, 1)
    assert queries.get_batch(session=session, batch_id=12345) is None


def test_get_claim(session: Session, two_batches, make_claim) -> None:
    assert queries.get_claim(session=session, claim_id="C000003") == canonical(make_claim(3))
    assert queries.get_claim(session=session, claim_id="nope") is None


def test_load_hospitals(session: Session, write_rows, tmp_path: Path) -> None:
    rows = [
        {"hospital_id": "H1", "name": "华西", "region": "510100", "level": "3", "regional_center": "true"}
    ]
    import_file(write_rows(tmp_path / "h.csv", rows), kind="hospitals", session=session)
    assert queries.load_hospitals(session=session) == {
        "H1": {
            "hospital_id": "H1",
            "name": "华西",
            "region": "510100",
            "level": "3",
            "designated_on": None,
            "regional_center": True,
            "coaching_until": None,
        }
    }


def test_load_groups_takes_the_newest_version(session: Session, write_rows, tmp_path: Path) -> None:
    def table(region: str, weight: str) -> list[dict[str, str]]:
        return [
            {"region": region, "scheme": "DRG", "group_code": "FM19", "weight": weight, "avg_cost": "30000"}
        ]

    import_file(
        write_rows(tmp_path / "a.csv", table("510100", "1.1")), kind="groups", session=session, version="2024"
    )
    import_file(
        write_rows(tmp_path / "b.csv", table("510100", "1.3")), kind="groups", session=session, version="2025"
    )
    import_file(
        write_rows(tmp_path / "c.csv", table("510700", "0.9")), kind="groups", session=session, version="v1"
    )
    groups = queries.load_groups(session=session)
    assert groups == {
        ("510100", "DRG", "FM19"): {
            "region": "510100",
            "scheme": "DRG",
            "group_code": "FM19",
            "name": None,
            "weight": 1.3,
            "avg_cost": 30000.0,
            "avg_los": None,
            "version": "2025",
        },
        ("510700", "DRG", "FM19"): {
            "region": "510700",
            "scheme": "DRG",
            "group_code": "FM19",
            "name": None,
            "weight": 0.9,
            "avg_cost": 30000.0,
            "avg_los": None,
            "version": "v1",
        },
    }


def test_batch_span_is_the_regions_and_admit_range(
    session: Session, two_batches, make_claim, write_rows, tmp_path: Path
) -> None:
    """One pass for two reads a screen starts with: the same regions (in order) and admission range."""
    rows = [
        make_claim(40, treatment_region="510300", admit_date="2023-05-02", discharge_date="2023-05-09"),
        make_claim(41, treatment_region="510100", admit_date="2024-02-01", discharge_date="2024-02-03"),
        make_claim(42, treatment_region="510300", admit_date="2025-03-04", discharge_date="2025-03-05"),
    ]
    third = import_file(write_rows(tmp_path / "regions.csv", rows), kind="claims", session=session).batch_id
    for batch_id in (*two_batches, third, 99):
        span = queries.batch_span(session=session, batch_id=batch_id)
        assert span.regions == queries.batch_regions(session=session, batch_id=batch_id)
        assert span.admits == queries.batch_admit_range(session=session, batch_id=batch_id)
    assert queries.batch_span(session=session, batch_id=third) == (
        ["510100", "510300"],
        (date(2023, 5, 2), date(2025, 3, 4)),
    )
    assert queries.batch_span(session=session, batch_id=99) == ([], None)
