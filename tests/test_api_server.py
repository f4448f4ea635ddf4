"""The API on a real server: `drgaudit serve --workers 2` on 127.0.0.1 with a demo casebook.

- Concurrent requests from several threads and several processes get exactly the answers a serial
  client gets (and the in-process screen): the durable-rules adapter and the warm engine per worker.
- The README's curl examples run as they are written.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from drgaudit.casebook import accounts
from drgaudit.casebook.db import make_engine
from drgaudit.demo.run import run_demo
from drgaudit.services import accounts as account_service
from drgaudit.services import apikeys
from drgaudit.services.presettlement import parse_claims, screen_request
from drgaudit.services.warm import WarmEngine
from tests.presettlement_support import typed_json
from tests.web_support import free_port, make_accounts

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A demo casebook (1,000 claims, screened as a batch), two API keys, and the server on it."""
    root = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{root / 'casebook.sqlite'}"
    run_demo(root / "demo", claims=1000, seed=11, db_url=url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            saved = accounts._hasher
            accounts.configure_hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
            try:
                make_accounts(session, ("settle", "integration:510100"), ("auditor", "auditor"))
            finally:
                accounts._hasher = saved
            admin = account_service.cli_principal(session=session, user="admin")
            keys = {
                name: apikeys.add_key(session=session, principal=admin, username=name, name="test").text
                for name in ("settle", "auditor")
            }
    finally:
        engine.dispose()
    port = free_port()
    log = open(root / "serve.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
    env = dict(os.environ, DRGAUDIT_HOME=str(root / "home"), DRGAUDIT_API_RATE_PER_MINUTE="10000000")
    process = subprocess.Popen(
        [sys.executable, "-m", "drgaudit", "serve", "--port", str(port), "--workers", str(WORKERS), "--db", url],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        cwd=ROOT,  # evidence names rule files relative to the working directory, as this process does
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            text = (root / "serve.log").read_text(encoding="utf-8")
            if text.count("rule packs compiled") >= WORKERS:
                try:
                    if httpx.get(f"{base}/login", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            assert process.poll() is None, f"the server stopped:\n{text[-3000:]}"
            assert time.monotonic() < deadline, f"the server did not start:\n{text[-3000:]}"
            time.sleep(0.3)
        yield {"base": base, "url": url, "keys": keys, "root": root, "log": root / "serve.log"}
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _claims(server: dict[str, Any], count: int) -> list[dict[str, Any]]:
    import csv

    with open(server["root"] / "demo" / "claims.csv", encoding="utf-8", newline="") as f:
        return [typed_json(row) for row in csv.DictReader(f)][:count]


def _post_all(base: str, key: str, claims: list[dict[str, Any]]) -> dict[str, Any]:
    """Each claim in its own request; the answer of each without its request id."""
    answers = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        for claim in claims:
            response = client.post("/api/v1/screen", json={"claim": claim})
            assert response.status_code == 200, response.text
            body = response.json()
            body.pop("request_id")
            answers[claim["claim_id"]] = body
    return answers


def _in_process(args: tuple[str, str, list[dict[str, Any]]]) -> tuple[int, dict[str, Any]]:
    base, key, claims = args
    return os.getpid(), _post_all(base, key, claims)


def test_concurrent_threads_and_processes_get_the_serial_answers(server: dict[str, Any]) -> None:
    claims = _claims(server, 240)
    key = server["keys"]["auditor"]
    serial = _post_all(server["base"], key, claims)
    assert sum(1 for a in serial.values() if a["claims"][0]["hits"]) >= 15
    # The same answers as screening in this process, without HTTP.
    engine = make_engine(server["url"])
    try:
        with Session(engine) as session:
            warm = WarmEngine()
            for claim in claims[:60]:
                records = parse_claims({"claim": claim}, max_claims=1)
                direct = screen_request(
                    session=session, engine=warm, claims=records, actor="t", request_id="t"
                )
                assert json.loads(json.dumps(direct.to_dict(), default=str)) == serial[claim["claim_id"]]
    finally:
        engine.dispose()
    # Six threads and three processes at once, each in its own order, against the two workers.
    orders = [random.Random(seed).sample(claims, len(claims)) for seed in range(9)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool, ThreadPoolExecutor(max_workers=6) as threads:
        in_processes = pool.map_async(_in_process, [(server["base"], key, order) for order in orders[6:]])
        for answers in threads.map(lambda order: _post_all(server["base"], key, order), orders[:6]):
            assert answers == serial
        for _pid, answers in in_processes.get(timeout=600):
            assert answers == serial
    # Both workers answered (each logs its requests with its own process id in the access log).
    assert len(re.findall(r"rule packs compiled", server["log"].read_text(encoding="utf-8"))) >= WORKERS


def _readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Pre-settlement screening API") :]
    section = section[: section.index("\n## ", 3)]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the API section has one runnable bash block"
    return blocks[0]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_curl_examples_work(server: dict[str, Any], tmp_path: Path) -> None:
    script = 'set -euo pipefail\ncurl() { command curl "$@"; echo; }\n' + _readme_block()
    env = dict(os.environ, API=f"{server['base']}/api/v1", KEY=server["keys"]["settle"])
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(answers) == 6 and all("request_id" in a for a in answers)
    first, stored, explained, cases, packs, bad = answers
    assert first["claims"][0]["verdict"] == "special_review"
    assert {"LOS-001", "OUT-HIGH-001"} <= {h["rule_id"] for h in first["claims"][0]["hits"]}
    assert stored["request_id"] == "settle-20250605-000123" and stored["stored"]["claims"]["new"] == 1
    assert explained["claim_id"] == "JS2025990001" and any(r["fired"] for r in explained["rules"])
    assert cases["total"] == 1 and cases["cases"][0]["claim_id"] == "JS2025990001"
    assert packs["packs"][0]["region"] == "510100"
    assert bad["error"]["code"] == "invalid_claims"
    assert "claim.age: 'sixty' is not a whole number" in bad["error"]["problems"]
