"""One answer to "which code tables?": after `drgaudit import codes`, screening files, screening the batch,
`explain` and the pre-settlement API all judge a claim against the loaded set, and every hit names it.

The loaded set is the bundled CHS-DRG 1.1 tables without one diagnosis code that claims of the demo use as
their principal diagnosis, so DQ-001 (code not in the code table) fires on exactly those claims when, and
only when, the loaded set is the one used."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.api.app import create_app
from drgaudit.casebook.db import make_engine
from drgaudit.cli.root import app
from drgaudit.demo.generator import generate
from drgaudit.engine.codes import bundled_codes_dir
from drgaudit.services import accounts as account_service
from drgaudit.services import apikeys
from drgaudit.web.settings import WebSettings
from tests.presettlement_support import typed_json
from tests.web_support import SECRET, make_accounts

runner = CliRunner()
SET_NAME = "省版2025"


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("province")
    generate(root, claims=1000, seed=5)
    return root


def claims_of(province: Path) -> list[dict[str, str]]:
    with open(province / "claims.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def read_hits(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_files_batch_explain_and_api_judge_with_the_loaded_code_set(
    province: Path, tmp_path: Path, db_url: str, fast_passwords: None
) -> None:
    rows = [r for r in claims_of(province) if r["treatment_region"] == "510100"]
    dropped = rows[0]["principal_dx"]
    unknown = {r["claim_id"] for r in claims_of(province) if r["principal_dx"] == dropped}
    codes = tmp_path / "codes"
    shutil.copytree(bundled_codes_dir(), codes)
    table = codes / "diagnoses.tsv"
    lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
    table.write_text("".join(line for line in lines if line.split("\t")[0] != dropped), encoding="utf-8")

    db = ["--db", db_url]
    cli("import", "hospitals", str(province / "hospitals.csv"), *db)
    cli("import", "groups", str(province / "groups.csv"), "--version", "demo", *db)
    cli("import", "claims", str(province / "claims.csv"), *db)
    assert cli("import", "codes", str(codes), "--name", SET_NAME, *db).startswith(
        f"code set `{SET_NAME}` loaded"
    )

    batch = runner.invoke(app, ["screen", "--batch", "3", "--output", str(tmp_path / "batch.jsonl"), *db])
    assert batch.exit_code == 0, batch.output
    files = runner.invoke(
        app,
        ["screen", str(province / "claims.csv"), "--hospitals", str(province / "hospitals.csv"),
         "--groups", str(province / "groups.csv"), "--output", str(tmp_path / "files.jsonl"), *db],
    )  # fmt: skip
    assert files.exit_code == 0, files.output
    for summary in (batch.stderr, files.stderr):
        assert f"code tables: {SET_NAME} (" in summary
    from_batch, from_files = read_hits(tmp_path / "batch.jsonl"), read_hits(tmp_path / "files.jsonl")
    assert from_files == from_batch
    assert {h["code_set"].split(" (")[0] for h in from_batch} == {SET_NAME}
    assert {h["claim_id"] for h in from_batch if h["rule_id"] == "DQ-001"} >= unknown

    claim = rows[0]
    explained = cli("explain", claim["claim_id"], *db)
    assert f"code tables: {SET_NAME} (" in explained
    assert any(
        line.startswith("HIT  DQ-001") or line.startswith("hit  DQ-001") for line in explained.splitlines()
    ), explained

    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            make_accounts(session, ("settle", "integration:510100"))
            admin = account_service.cli_principal(session=session, user="admin")
            key = apikeys.add_key(session=session, principal=admin, username="settle", name="test").text
    finally:
        engine.dispose()
    client = TestClient(create_app(WebSettings(database_url=db_url, secret_key=SECRET)))
    response = client.post(
        "/api/v1/screen?store=false",
        json={"claim": typed_json(claim)},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    (answer,) = response.json()["claims"]
    assert {h["code_set"] for h in answer["hits"]} == {h["code_set"] for h in from_batch}
    assert "DQ-001" in {h["rule_id"] for h in answer["hits"]}
