"""Importing hospitals and DRG/DIP group tables: new, unchanged, revised, duplicates, versions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.models import GroupEntry, Hospital, ImportBatch

HOSPITALS = [
    {
        "hospital_id": "H001",
        "name": "四川大学华西医院",
        "region": "510100",
        "level": "3",
        "regional_center": "1",
    },
    {
        "hospital_id": "H002",
        "name": "绵阳市中心医院",
        "region": "510700",
        "level": "3",
        "designated_on": "2025-06-01",
    },
    {"hospital_id": "H003", "name": "XX县人民医院", "region": "511000", "level": "2"},
]


def groups(region: str = "510100", weight: str = "1.20") -> list[dict[str, str]]:
    return [
        {
            "region": region,
            "scheme": "DRG",
            "group_code": "FM19",
            "name": "经皮冠状动脉支架植入",
            "weight": weight,
            "avg_cost": "35000",
            "avg_los": "6.5",
        },
        {
            "region": region,
            "scheme": "DRG",
            "group_code": "ES23",
            "name": "呼吸系统感染",
            "weight": "0.85",
            "avg_cost": "9800.5",
        },
    ]


def test_hospitals_new_unchanged_revised(session: Session, write_rows, tmp_path: Path) -> None:
    first = import_file(write_rows(tmp_path / "h1.csv", HOSPITALS), kind="hospitals", session=session)
    assert (first.new, first.unchanged, first.revised, first.rows_rejected) == (3, 0, 0, 0)
    hospital = session.get(Hospital, "H002")
    assert (hospital.name, hospital.level, hospital.designated_on, hospital.regional_center) == (
        "绵阳市中心医院",
        "3",
        date(2025, 6, 1),
        None,
    )
    assert session.get(Hospital, "H001").regional_center is True

    changed = [
        HOSPITALS[0],
        {**HOSPITALS[1], "level": "2"},
        HOSPITALS[2],
        {**HOSPITALS[2], "hospital_id": "H004"},
    ]
    second = import_file(write_rows(tmp_path / "h2.csv", changed), kind="hospitals", session=session)
    assert (second.new, second.unchanged, second.revised) == (1, 2, 1)
    session.expire_all()
    assert session.get(Hospital, "H002").level == "2"
    assert session.get(Hospital, "H002").batch_id == second.batch_id
    assert session.get(ImportBatch, second.batch_id).note == "revised: H002"


def test_hospital_duplicates_and_errors(session: Session, write_rows, tmp_path: Path) -> None:
    rows = [
        *HOSPITALS,
        {**HOSPITALS[0], "name": "again"},
        {"hospital_id": "H9", "name": "", "region": "1", "level": "3"},
    ]
    path = write_rows(tmp_path / "h.csv", rows)
    report = import_file(path, kind="hospitals", session=session)
    assert report.rows_ok == 3
    assert [str(e) for e in report.first_errors] == [
        f"{path}:5: hospital_id: duplicate of row 2",
        f"{path}:6: name: missing (required)",
        f"{path}:6: region: '1' is not a 6-digit region code",
    ]


def test_group_versions(session: Session, write_rows, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "cd-drg-2024.csv", groups())
    first = import_file(path, kind="groups", session=session)
    assert (first.version, first.new) == ("cd-drg-2024", 2)

    again = import_file(path, kind="groups", session=session)
    assert again.already_imported and again.batch_id == first.batch_id
    # The same table under another version is another import.
    other = import_file(path, kind="groups", session=session, version="2025")
    assert (other.already_imported, other.version, other.new) == (False, "2025", 2)

    revised = import_file(
        write_rows(tmp_path / "cd-drg-2025b.csv", groups(weight="1.25")),
        kind="groups",
        session=session,
        version="2025",
    )
    assert (revised.new, revised.unchanged, revised.revised) == (0, 1, 1)
    assert session.get(ImportBatch, revised.batch_id).note == "revised: 510100/DRG/FM19"
    entries = session.exec(
        select(GroupEntry.version, GroupEntry.group_code, GroupEntry.weight, GroupEntry.avg_cost).order_by(
            GroupEntry.version, GroupEntry.group_code
        )
    ).all()
    assert [tuple(e) for e in entries] == [
        ("2025", "ES23", 0.85, 9800.5),
        ("2025", "FM19", 1.25, 35000.0),
        ("cd-drg-2024", "ES23", 0.85, 9800.5),
        ("cd-drg-2024", "FM19", 1.2, 35000.0),
    ]


def test_group_duplicates_are_per_region_and_scheme(session: Session, write_rows, tmp_path: Path) -> None:
    rows = groups() + groups(region="510700") + [groups()[0]]
    path = write_rows(tmp_path / "g.csv", rows)
    report = import_file(path, kind="groups", session=session)
    assert (report.new, report.rows_rejected) == (4, 1)
    assert str(report.first_errors[0]) == f"{path}:6: group_code: duplicate of row 2"


def test_hospital_written_differently_is_unchanged(session: Session, write_rows, tmp_path: Path) -> None:
    import_file(write_rows(tmp_path / "a.csv", HOSPITALS), kind="hospitals", session=session)
    same = [{**HOSPITALS[0], "regional_center": "yes", "level": " 3"}, HOSPITALS[1], HOSPITALS[2]]
    report = import_file(write_rows(tmp_path / "b.csv", same), kind="hospitals", session=session)
    assert (report.new, report.unchanged, report.revised) == (0, 3, 0)
