"""What a real `tandem serve --demo` writes to its log during a session of ordinary client mistakes
and one unexpected failure: no secrets, no tracebacks for client errors, one record with a request
id (also in the answer) for the failure. Text and JSON formats."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import client, free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Hunter2-Wrong-Passw0rd"


async def start(tmp_path: Path, fmt: str) -> tuple[asyncio.subprocess.Process, str, Path, Path, str]:
    db_file = tmp_path / "logs.sqlite3"
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TANDEM_DATABASE_URL": f"sqlite://{db_file}",
           "TANDEM_BROADCAST_URL": "memory://", "TANDEM_LOG_FORMAT": fmt, "TANDEM_LOG_LEVEL": "INFO",
           "TANDEM_RATE_LIMIT_PER_MINUTE": "0"}
    env.pop("TANDEM_SIMULATOR_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "serve", "--demo", "--port", str(port), cwd=ROOT, env=env,
        stdout=out.open("wb"), stderr=err.open("wb"))
    return proc, f"http://127.0.0.1:{port}", out, err, str(db_file)


def text_of(path: Path) -> str:
    """The file's text so far ("" before it exists)."""
    return path.read_text() if path.exists() else ""


async def printed(out: Path, pattern: str, proc: asyncio.subprocess.Process) -> str:
    for _ in range(1200):
        m = re.search(pattern, text_of(out))
        if m:
            return m.group(1)
        if proc.returncode is not None:
            raise AssertionError(f"server exited: {proc.returncode}")
        await asyncio.sleep(0.1)
    raise TimeoutError(pattern)


async def mistakes(http: httpx.AsyncClient, url: str, sim: str, token: str) -> None:
    """An ordinary session of client errors, each answered with its code."""
    creds = (await http.post(f"{sim}/sim/accounts", json={
        "vendor": "easee", "devices": [{"kind": "charger", "serialNumber": "EHLOGS001"}]})).json()["credentials"]
    auth = {"Authorization": f"Bearer {token}"}
    inline = (f'mutation {{ linkVendor(vendor: "easee", credentials: {{userName: "{creds["username"]}", '
              f'password: "{SECRET}"}}) {{ vendor }} }}')
    cases: list[tuple[dict[str, Any], dict[str, str], str]] = [
        ({"query": inline}, auth, "BAD_CREDENTIALS"),
        ({"query": "mutation($v: String!, $c: JSON!) { linkVendor(vendor: $v, credentials: $c) { vendor } }",
          "variables": {"v": "easee", "c": {"userName": creds["username"], "password": SECRET}}}, auth,
         "BAD_CREDENTIALS"),
        ({"query": 'mutation { linkVendor(vendor: "nope", credentials: {password: "' + SECRET + '"}) { vendor } }'},
         auth, "UNKNOWN_VENDOR"),
        ({"query": 'mutation { linkVendor(vendor: "easee", credentials: {password: ' + SECRET + "}) { vendor } }"},
         auth, "GRAPHQL_PARSE_FAILED"),
        ({"query": 'mutation { linkVendor(vendor: "easee", credentials: {password: "' + SECRET + '"}) { nope } }'},
         auth, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": '{ vehicle(id: "nope") { id } }'}, auth, "NOT_FOUND"),
        ({"query": "query($i: ID!) { vehicle(id: $i) { id } }", "variables": {"i": [1]}}, auth, "BAD_USER_INPUT"),
        ({"query": "{ vehicle(id: "}, auth, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ vehicl { id } }"}, auth, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "{ viewer { id } }"}, {"Authorization": f"Bearer tdm_ut_{SECRET}"}, "UNAUTHENTICATED"),
        ({"query": "{ __schema { types { name } } }"}, {}, "UNAUTHENTICATED"),
        ({"query": 'mutation { setChargerLocation(chargerId: "nope") { id } }'}, auth, "NOT_FOUND"),
        ({"query": 'mutation { startCharging(vehicleId: "nope") { id } }'}, auth, "NOT_FOUND"),
    ]
    for body, headers, code in cases:
        r = await http.post(f"{url}/graphql", json=body, headers=headers)
        assert r.json()["errors"][0]["extensions"]["code"] == code, (body, r.text)
    r = await http.post(f"{url}/graphql", content=b'{"query": "\xff"}', headers={"content-type": "application/json"})
    assert r.status_code == 400


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_logs_hold_no_secrets_no_client_tracebacks_and_one_record_per_failure(tmp_path: Path, fmt: str) -> None:
    proc, url, out, err, db_file = await start(tmp_path, fmt)
    try:
        sim = await printed(out, r"simulator: (\S+)", proc)
        token = await printed(out, r"demo user token: (\S+)", proc)
        async with client(30) as http:
            for _ in range(600):
                try:
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            await mistakes(http, url, sim, token)
            before = text_of(err)
            with sqlite3.connect(db_file) as conn:  # a real unexpected failure: the table is gone
                conn.execute("DROP TABLE location")
            r = await http.post(f"{url}/graphql", headers={"Authorization": f"Bearer {token}"}, json={
                "query": 'mutation { createLocation(name: "home", latitude: 1, longitude: 2) { id } }'})
            error = r.json()["errors"][0]
            assert error["message"] == "Internal server error."
            assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
            rid = error["extensions"]["requestId"]
            assert r.headers["x-request-id"] == rid
    finally:
        proc.terminate()
        await proc.wait()
    log = text_of(err)
    assert SECRET not in log and SECRET not in text_of(out)
    assert token not in log
    assert "Traceback" not in before
    after = log[len(before):]
    if fmt == "json":
        records = [json.loads(line) for line in log.splitlines() if line.strip()]
        assert all("request_id" in rec and "level" in rec for rec in records)
        assert not [rec for rec in records[: len(before.splitlines())] if rec["level"] in ("error", "critical")]
        answered = [rec for rec in records if "client error" in rec["event"]]
        assert len(answered) >= 12 and all(rec["level"] == "info" and "exception" not in rec for rec in answered)
        failures = [rec for rec in records if rec.get("request_id") == rid and rec["level"] == "error"]
        assert len(failures) == 1 and "OperationalError" in failures[0]["exception"]
    else:
        assert " ERROR " not in before
        assert before.count("client error") >= 12
        failures = [line for line in after.splitlines() if f"[{rid}]" in line and " ERROR " in line]
        assert len(failures) == 1
        assert after.count("Traceback") >= 1 and "OperationalError" in after
