"""Importing claims files: the acceptance case, re-imports, encodings and formats, revisions, duplicates, crashes."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.models import BatchClaim, Claim, ClaimCode, ClaimRevision, ImportBatch, RejectedRow
from drgaudit.errors import DataFileError
from drgaudit.labels import input_labels

# Row index (0-based, among the data rows) -> (overrides, field named in the error). Ten bad rows,
# one error each, on different fields and checks.
BAD_ROWS = {
    17: ({"age": "abc"}, "age"),
    101: ({"gender": "3"}, "gender"),
    222: ({"admit_date": "2025-03-05", "discharge_date": "2025-03-01"}, "discharge_date"),
    333: ({"principal_dx": "XYZ"}, "principal_dx"),
    404: ({"secondary_dx": "I10.x05|BAD1"}, "secondary_dx"),
    505: ({"procedures": "36.0600|9X"}, "procedures"),
    606: ({"total_cost": "-5"}, "total_cost"),
    707: ({"insured_region": "5101"}, "insured_region"),
    808: ({"payment_scheme": "DRG", "group_code": ""}, "group_code"),
    909: ({"claim_id": "C000005"}, "claim_id"),  # same id as data row 5 (file row 7)
}


def count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()[0]


def acceptance_rows(make_claim, **extra) -> list[dict[str, str]]:
    rows = []
    for n in range(1000):
        overrides, _field = BAD_ROWS.get(n, ({}, None))
        rows.append(make_claim(n, **{**extra, **overrides}))
    return rows


@pytest.fixture
def claims_csv(tmp_path: Path, make_claim, write_rows) -> Path:
    return write_rows(tmp_path / "claims.csv", acceptance_rows(make_claim, dept_code="心内科"))


def expected_errors(path: Path, first_row: int = 2) -> list[tuple[str, int, str]]:
    return [(str(path), n + first_row, field) for n, (_o, field) in sorted(BAD_ROWS.items())]


def test_acceptance_990_in_10_named(session: Session, claims_csv: Path) -> None:
    report = import_file(claims_csv, kind="claims", session=session)

    assert (report.rows_total, report.rows_ok, report.rows_rejected) == (1000, 990, 10)
    assert (report.new, report.unchanged, report.revised) == (990, 0, 0)
    assert report.encoding == "utf-8"
    assert not report.already_imported
    assert [(e.path, e.row, e.field) for e in report.first_errors] == expected_errors(claims_csv)
    assert report.errors_total == 10
    assert str(report.first_errors[0]) == f"{claims_csv}:19: age: 'abc' is not a whole number"
    assert str(report.first_errors[2]) == (
        f"{claims_csv}:224: discharge_date: 2025-03-01 is before admit_date 2025-03-05"
    )
    assert str(report.first_errors[-1]) == f"{claims_csv}:911: claim_id: duplicate of row 7"

    assert count(session, Claim) == 990
    assert count(session, BatchClaim) == 990
    assert count(session, RejectedRow) == 10
    batch = session.get(ImportBatch, report.batch_id)
    assert batch is not None
    assert (batch.kind, batch.file_name, batch.encoding) == ("claims", "claims.csv", "utf-8")
    assert (batch.rows_total, batch.rows_ok, batch.rows_rejected, batch.rows_new) == (1000, 990, 10, 990)

    assert report.rejects_path == claims_csv.with_name("claims.rejects.csv")
    with open(report.rejects_path, encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["file", "row", "field", "reason"]
    assert [(p, int(r), fld) for p, r, fld, _reason in lines[1:]] == expected_errors(claims_csv)
    assert lines[7] == [str(claims_csv), "608", "total_cost", "-5 is negative"]


def test_rejected_rows_keep_their_raw_text(session: Session, claims_csv: Path) -> None:
    report = import_file(claims_csv, kind="claims", session=session)
    stored = session.exec(
        select(RejectedRow.row, RejectedRow.field, RejectedRow.raw)
        .where(RejectedRow.batch_id == report.batch_id)
        .order_by(RejectedRow.row)
    ).all()
    assert [(row, field) for row, field, _raw in stored] == [
        (r, f) for _p, r, f in expected_errors(claims_csv)
    ]
    assert stored[0][2].startswith("C000017,P00005,")
    assert ",abc," in stored[0][2]


def test_stored_claim_is_the_canonical_record(session: Session, claims_csv: Path) -> None:
    import_file(claims_csv, kind="claims", session=session)
    claim = session.get(Claim, "C000004")
    assert claim is not None
    assert claim.admit_date == date(2025, 1, 5)
    assert claim.total_cost == 3148.0
    assert claim.dept_code == "心内科"
    assert claim.secondary_dx == "C34.900x001"
    assert claim.procedures is None
    assert claim.age_days is None
    assert (claim.revision, claim.content_hash) == (1, claim.content_hash)
    codes = session.exec(
        select(ClaimCode.kind, ClaimCode.seq, ClaimCode.code).where(ClaimCode.claim_id == "C000001")
    ).all()
    assert sorted(codes) == [("dx", 1, "E11.900"), ("px", 1, "96.0800x005")]


def test_same_file_again_changes_nothing(session: Session, claims_csv: Path) -> None:
    first = import_file(claims_csv, kind="claims", session=session)
    claims_csv.with_name("claims.rejects.csv").unlink()
    again = import_file(claims_csv, kind="claims", session=session)

    assert again.already_imported
    assert again.batch_id == first.batch_id
    assert (again.rows_total, again.rows_ok, again.rows_rejected) == (1000, 990, 10)
    assert again.rejects_path is None
    assert not claims_csv.with_name("claims.rejects.csv").exists()
    assert count(session, ImportBatch) == 1
    assert count(session, Claim) == 990
    assert count(session, RejectedRow) == 10


def test_gbk_copy_imports_the_same_rows(session: Session, claims_csv: Path, tmp_path: Path) -> None:
    import_file(claims_csv, kind="claims", session=session)
    gbk = tmp_path / "claims-gbk.csv"
    gbk.write_bytes(claims_csv.read_text(encoding="utf-8").encode("gb18030"))

    report = import_file(gbk, kind="claims", session=session)

    assert report.encoding == "gb18030"
    assert (report.rows_ok, report.rows_rejected) == (990, 10)
    assert (report.new, report.unchanged, report.revised) == (0, 990, 0)
    assert [(e.row, e.field) for e in report.first_errors] == [(r, f) for _p, r, f in expected_errors(gbk)]
    assert session.get(Claim, "C000004").dept_code == "心内科"
    assert count(session, BatchClaim) == 2 * 990


def test_utf8_bom_copy_imports_the_same_rows(session: Session, claims_csv: Path, tmp_path: Path) -> None:
    import_file(claims_csv, kind="claims", session=session)
    bom = tmp_path / "claims-bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + claims_csv.read_bytes())

    report = import_file(bom, kind="claims", session=session)

    assert report.encoding == "utf-8-sig"
    assert (report.new, report.unchanged, report.revised, report.rows_rejected) == (0, 990, 0, 10)


def test_jsonl_copy_imports_the_same_rows(
    session: Session, make_claim, write_rows, claims_csv, tmp_path
) -> None:
    import_file(claims_csv, kind="claims", session=session)
    jsonl = write_rows(tmp_path / "claims.jsonl", acceptance_rows(make_claim, dept_code="心内科"))

    report = import_file(jsonl, kind="claims", session=session)

    assert (report.new, report.unchanged, report.revised, report.rows_rejected) == (0, 990, 0, 10)
    # JSONL rows are numbered by line: no header line.
    assert [(e.row, e.field) for e in report.first_errors] == [
        (r, f) for _p, r, f in expected_errors(jsonl, first_row=1)
    ]


def test_jsonl_with_json_types(session: Session, make_claim, write_rows, tmp_path: Path) -> None:
    text = make_claim(1)
    typed = {
        **text,
        "age": 61,
        "gender": 2,
        "total_cost": 3037,
        "fee_drug": 1214.8,
        "secondary_dx": ["E11.900", "K22.301"],
        "age_days": None,
    }
    path = write_rows(tmp_path / "typed.jsonl", [typed])
    report = import_file(path, kind="claims", session=session)
    assert report.rows_ok == 1, report.first_errors
    claim = session.get(Claim, "C000001")
    assert (claim.age, claim.gender, claim.total_cost, claim.secondary_dx) == (
        61,
        "2",
        3037.0,
        "E11.900|K22.301",
    )


def test_jsonl_bad_lines_are_rejected_rows(session: Session, make_claim, write_rows, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "claims.jsonl", [make_claim(1), make_claim(2)])
    path.write_text(path.read_text() + '{"claim_id": "C9", \n[1, 2]\n\n' + '{"claim_id": "X", "extra": 1}\n')
    report = import_file(path, kind="claims", session=session)
    assert report.rows_ok == 2
    errors = [(e.row, e.field) for e in report.first_errors]
    assert errors[0] == (3, "row") and errors[1] == (4, "row")
    assert report.first_errors[1].reason == "a JSON list, not an object"
    assert (6, "patient_id") in errors
    assert report.warnings == [f"{path}: unknown fields ignored: extra"]


def test_xlsx_copy_imports_the_same_rows(
    session: Session, make_claim, write_rows, claims_csv, tmp_path
) -> None:
    import_file(claims_csv, kind="claims", session=session)
    xlsx = write_rows(tmp_path / "claims.xlsx", acceptance_rows(make_claim, dept_code="心内科"))

    report = import_file(xlsx, kind="claims", session=session)

    assert report.encoding is None
    assert (report.new, report.unchanged, report.revised, report.rows_rejected) == (0, 990, 0, 10)
    assert [(e.row, e.field) for e in report.first_errors] == [(r, f) for _p, r, f in expected_errors(xlsx)]


def test_xlsx_with_typed_cells(session: Session, make_claim, write_rows, tmp_path: Path) -> None:
    csv_path = write_rows(tmp_path / "one.csv", [make_claim(1)])
    import_file(csv_path, kind="claims", session=session)
    row = make_claim(1)
    typed = {
        **row,
        "age": int(row["age"]),
        "insured_region": int(row["insured_region"]),
        "admit_date": datetime.fromisoformat(row["admit_date"]),
        "discharge_date": date.fromisoformat(row["discharge_date"]),
        "total_cost": float(row["total_cost"]),
        "fee_bed": int(float(row["fee_bed"])),
        "gender": 2.0,
    }
    xlsx = write_rows(tmp_path / "one.xlsx", [typed])
    report = import_file(xlsx, kind="claims", session=session)
    assert (report.unchanged, report.rows_rejected) == (1, 0), report.first_errors


def test_revision_keeps_the_old_content(session: Session, make_claim, write_rows, tmp_path: Path) -> None:
    first = import_file(
        write_rows(tmp_path / "a.csv", [make_claim(1), make_claim(2), make_claim(3)]),
        kind="claims",
        session=session,
    )
    changed = make_claim(2, total_cost="9999.00", secondary_dx="I63.900")
    second = import_file(
        write_rows(tmp_path / "b.csv", [changed, make_claim(3), make_claim(4)]),
        kind="claims",
        session=session,
    )

    assert (second.new, second.unchanged, second.revised) == (1, 1, 1)
    claim = session.get(Claim, "C000002")
    assert (claim.total_cost, claim.secondary_dx, claim.revision, claim.batch_id) == (
        9999.0,
        "I63.900",
        2,
        second.batch_id,
    )
    assert session.get(Claim, "C000003").batch_id == first.batch_id
    revision = session.exec(select(ClaimRevision)).scalars().one()
    assert (revision.claim_id, revision.revision, revision.replaced_by_batch) == (
        "C000002",
        1,
        second.batch_id,
    )
    assert revision.content["total_cost"] == 3074.0
    assert revision.content["secondary_dx"] == ["K22.301", "J18.900"]
    assert revision.content["admit_date"] == "2025-01-03"
    codes = session.exec(
        select(ClaimCode.code).where(ClaimCode.claim_id == "C000002", ClaimCode.kind == "dx")
    )
    assert codes.scalars().all() == ["I63.900"]
    delivered = session.exec(
        select(BatchClaim.claim_id)
        .where(BatchClaim.batch_id == second.batch_id)
        .order_by(BatchClaim.claim_id)
    )
    assert delivered.scalars().all() == ["C000002", "C000003", "C000004"]
    assert session.get(ImportBatch, second.batch_id).note == "revised: C000002"


def test_duplicate_ids_in_one_file(session: Session, make_claim, write_rows, tmp_path: Path) -> None:
    path = write_rows(
        tmp_path / "dups.csv", [make_claim(1), make_claim(2), make_claim(1, age="40"), make_claim(2)]
    )
    report = import_file(path, kind="claims", session=session)
    assert (report.new, report.rows_rejected) == (2, 2)
    assert [str(e) for e in report.first_errors] == [
        f"{path}:4: claim_id: duplicate of row 2",
        f"{path}:5: claim_id: duplicate of row 3",
    ]
    assert session.get(Claim, "C000001").age == 21


@pytest.mark.parametrize("chunk_size", [1, 2, 3])
def test_duplicates_across_chunks(
    session: Session, make_claim, write_rows, tmp_path: Path, chunk_size: int
) -> None:
    import_file(write_rows(tmp_path / "old.csv", [make_claim(5)]), kind="claims", session=session)
    rows = [
        make_claim(5),
        make_claim(6),
        make_claim(7),
        make_claim(5),
        make_claim(6, age="33"),
        make_claim(8),
    ]
    path = write_rows(tmp_path / "new.csv", rows)
    report = import_file(path, kind="claims", session=session, chunk_size=chunk_size)
    assert (report.new, report.unchanged, report.revised, report.rows_rejected) == (3, 1, 0, 2)
    assert [str(e) for e in report.first_errors] == [
        f"{path}:5: claim_id: duplicate of row 2",
        f"{path}:6: claim_id: duplicate of row 3",
    ]


def test_duplicate_after_a_revision_in_the_same_file(session, make_claim, write_rows, tmp_path) -> None:
    import_file(write_rows(tmp_path / "old.csv", [make_claim(5)]), kind="claims", session=session)
    rows = [make_claim(5, patient_id="P77777"), make_claim(6), make_claim(5)]
    report = import_file(write_rows(tmp_path / "new.csv", rows), kind="claims", session=session, chunk_size=1)
    assert (report.new, report.revised, report.rows_rejected) == (1, 1, 1)
    assert report.first_errors[0].reason == "duplicate of row 2"


def test_crash_mid_import_leaves_nothing(session: Session, make_claim, write_rows, tmp_path: Path) -> None:
    rows = [make_claim(n) for n in range(50)]
    rows[3] = make_claim(3, age="x")
    path = write_rows(tmp_path / "claims.csv", rows)

    def crash(done: int, _fraction: float) -> None:
        if done >= 20:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        import_file(path, kind="claims", session=session, chunk_size=10, progress=crash)

    for model in (ImportBatch, Claim, ClaimCode, BatchClaim, RejectedRow):
        assert count(session, model) == 0, model
    assert list(tmp_path.iterdir()) == [path]
    report = import_file(path, kind="claims", session=session, chunk_size=10)
    assert (report.new, report.rows_rejected) == (49, 1)


def test_undecodable_bytes_after_the_sample_fail_the_whole_file(
    session, make_claim, write_rows, tmp_path
) -> None:
    rows = [make_claim(n) for n in range(2000)]
    path = write_rows(tmp_path / "claims.csv", rows)
    path.write_bytes(path.read_bytes() + "C999999,张三".encode("gb18030") + b"\n")
    with pytest.raises(DataFileError, match=r"line 2002: bytes that are not utf-8 text"):
        import_file(path, kind="claims", session=session, chunk_size=500)
    assert count(session, Claim) == 0
    assert count(session, ImportBatch) == 0


def test_missing_required_column_is_a_file_error(session, make_claim, write_rows, tmp_path) -> None:
    path = write_rows(tmp_path / "claims.csv", [make_claim(1, age=None, principal_dx=None)])
    with pytest.raises(DataFileError) as caught:
        import_file(path, kind="claims", session=session)
    assert str(caught.value) == f"{path}: missing required columns: age, principal_dx"
    assert count(session, ImportBatch) == 0
    assert not path.with_name("claims.rejects.csv").exists()


def test_unknown_columns_are_listed_once(session, make_claim, write_rows, tmp_path) -> None:
    path = write_rows(tmp_path / "claims.csv", [make_claim(n, 医院名称="华西", Remark="x") for n in range(3)])
    report = import_file(path, kind="claims", session=session)
    assert report.rows_ok == 3
    assert report.warnings == [f"{path}: unknown columns ignored: 医院名称, remark"]


def test_a_header_in_chinese_labels_is_refused_saying_which_names_to_write(
    session, make_claim, write_rows, tmp_path
) -> None:
    """A hospital's export with the settlement list's Chinese column titles: the names to write instead."""
    labels = input_labels("claims")
    row = {labels.get(name, name): value for name, value in make_claim(1).items()}
    path = write_rows(tmp_path / "claims.xlsx", [row])
    with pytest.raises(DataFileError) as caught:
        import_file(path, kind="claims", session=session)
    message = str(caught.value)
    assert message.startswith(f"{path}: missing required columns: claim_id, patient_id, gender, ")
    assert message.endswith(
        "(write the field names of the data contract: 结算清单流水号 → claim_id, 人员编号 → patient_id, "
        f"性别 → gender, 年龄 → age and {len([n for n in row if n in labels.values()]) - 4} more)"
    )
    assert count(session, ImportBatch) == 0


def test_jsonl_keys_in_chinese_labels_are_named_in_the_warning(session, make_claim, tmp_path) -> None:
    labels = input_labels("claims")
    row = {**make_claim(1), "出院科别": "心内科"}
    row.pop("dept_code", None)
    path = tmp_path / "claims.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    report = import_file(path, kind="claims", session=session)
    assert report.rows_ok == 1
    assert report.warnings == [
        f"{path}: unknown fields ignored: 出院科别 (write the field names of the data contract: 出院科别 → dept_code)"
    ]
    assert labels["dept_code"] == "出院科别"


def test_a_title_row_above_the_header_is_named(session, tmp_path) -> None:
    path = tmp_path / "claims.csv"
    path.write_text(
        "2025年3月省内异地住院结算清单,,\nclaim_id,patient_id,gender\nC1,P1,1\n", encoding="utf-8"
    )
    with pytest.raises(DataFileError) as caught:
        import_file(path, kind="claims", session=session)
    assert str(caught.value).endswith(
        "(the first row must hold the field names, such as claim_id, patient_id, gender; "
        "it holds '2025年3月省内异地住院结算清单': delete any title rows above the header)"
    )


def test_an_optional_column_under_its_label_is_named_in_the_warning(
    session, make_claim, write_rows, tmp_path
) -> None:
    rows = [{**make_claim(n), "出院科别": "心内科", "Fee Drug": "10"} for n in range(2)]
    for row in rows:
        row.pop("dept_code", None), row.pop("fee_drug", None)
    path = write_rows(tmp_path / "claims.csv", rows)
    report = import_file(path, kind="claims", session=session)
    assert report.rows_ok == 2
    assert report.warnings == [
        f"{path}: unknown columns ignored: 出院科别, fee drug "
        "(write the field names of the data contract: 出院科别 → dept_code, fee drug → fee_drug)"
    ]


def test_rejects_path_override_and_imported_by(session, make_claim, write_rows, tmp_path) -> None:
    path = write_rows(tmp_path / "claims.csv", [make_claim(1), make_claim(2, gender="")])
    target = tmp_path / "out" / "bad.csv"
    target.parent.mkdir()
    report = import_file(path, kind="claims", session=session, rejects_path=target, imported_by="zhang")
    assert report.rejects_path == target
    assert target.read_text(encoding="utf-8-sig").splitlines()[1] == f"{path},3,gender,missing (required)"
    assert not path.with_name("claims.rejects.csv").exists()
    assert session.get(ImportBatch, report.batch_id).imported_by == "zhang"


def test_no_rejects_file_when_all_rows_are_good(session, make_claim, write_rows, tmp_path) -> None:
    path = write_rows(tmp_path / "claims.csv", [make_claim(1)])
    report = import_file(path, kind="claims", session=session)
    assert report.rejects_path is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.csv"]


def test_unknown_kind_is_refused(session, tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown import kind 'patients'"):
        import_file(tmp_path / "x.csv", kind="patients", session=session)


def test_same_content_written_differently_is_unchanged(session, make_claim, write_rows, tmp_path) -> None:
    import_file(
        write_rows(tmp_path / "a.csv", [make_claim(1), make_claim(2)]), kind="claims", session=session
    )
    rows = [make_claim(1, total_cost="3037", age=" 21 ", admit_date="2025-01-02T00:00:00"), make_claim(2)]
    report = import_file(write_rows(tmp_path / "b.csv", rows), kind="claims", session=session)
    assert (report.new, report.unchanged, report.revised) == (0, 2, 0)
    assert session.get(Claim, "C000001").revision == 1


def _code_and_link_rows(session: Session) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    codes = session.exec(select(ClaimCode.claim_id, ClaimCode.kind, ClaimCode.seq, ClaimCode.code)).all()
    links = session.exec(
        select(BatchClaim.batch_id, BatchClaim.patient_id, BatchClaim.claim_id, BatchClaim.row)
    ).all()
    # Batches by import order (PostgreSQL does not hand out the ids of deleted batches again).
    order = {batch: n for n, batch in enumerate(sorted({link[0] for link in links}))}
    return sorted(map(tuple, codes)), sorted((order[link[0]], *link[1:]) for link in links)


def test_code_rows_and_links_made_in_sqlite_are_those_made_in_python(
    engine, make_claim, write_rows, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite, new claims' code rows and batch links are made by SQL from the claim rows just
    inserted; they must be exactly the rows the Python path (used elsewhere) writes: every code of
    both lists with its position, duplicates and bad rows left out, revisions and re-deliveries."""
    from drgaudit.casebook import writers

    first = acceptance_rows(make_claim)
    first[3] = make_claim(3, secondary_dx="I10.x05|E11.900|I10.x05", procedures="36.0600|88.5500")
    first[4] = make_claim(4, secondary_dx="", procedures="")
    second = [make_claim(n) for n in range(990, 1100)]
    second[5] = make_claim(995, secondary_dx="C34.900x001|N18.900x012")  # a revision
    second[6] = make_claim(7)  # again, unchanged
    paths = [write_rows(tmp_path / "a.csv", first), write_rows(tmp_path / "b.csv", second)]

    def imported(chunk_size: int) -> tuple[object, ...]:
        with Session(engine) as session:
            reports = [import_file(p, kind="claims", session=session, chunk_size=chunk_size) for p in paths]
            rows = _code_and_link_rows(session)
            if engine.dialect.name == "sqlite":  # the links kept back until the end leave no table behind
                temp = session.connection().exec_driver_sql("SELECT name FROM sqlite_temp_master").all()
                assert temp == []
        with engine.begin() as conn:
            for table in (
                "rejected_row",
                "batch_claim",
                "claim_code",
                "claim_revision",
                "claim",
                "import_batch",
            ):
                conn.exec_driver_sql(f"DELETE FROM {table}")
        return tuple((r.new, r.unchanged, r.revised, r.rows_rejected) for r in reports), rows

    made_in_sql: list[int] = []
    link_from_claims = writers.ClaimWriter._link_from_claims

    def counted(self: writers.ClaimWriter, after: int, rows: Sequence[int]) -> None:
        made_in_sql.append(len(rows))
        link_from_claims(self, after, rows)

    for chunk_size in (7, 400):
        made_in_sql.clear()
        monkeypatch.setattr(writers.ClaimWriter, "_link_from_claims", counted)
        in_sql = imported(chunk_size)
        if engine.dialect.name == "sqlite":
            assert sum(made_in_sql) >= 792  # the chunks of new claims only went the SQL way
        monkeypatch.setattr(writers, "_ROWID_LIMIT", 0)  # no rowid range: every row bound from Python
        in_python = imported(chunk_size)
        monkeypatch.undo()
        assert in_sql == in_python
        counts, (codes, links) = in_sql
        assert counts == ((990, 0, 0, 10), (100, 9, 1, 0))
        assert [c[1:] for c in codes if c[0] == "C000003"] == [
            ("dx", 1, "I10.x05"),
            ("dx", 2, "E11.900"),
            ("dx", 3, "I10.x05"),
            ("px", 1, "36.0600"),
            ("px", 2, "88.5500"),
        ]
        assert not [c for c in codes if c[0] == "C000004"]
        assert len(links) == 990 + 110
