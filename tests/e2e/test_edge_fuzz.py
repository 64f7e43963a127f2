"""Schema-driven fuzzing against a real `tandem serve --demo` (uvicorn, simulator, the demo user's assets).

Bounded (`TANDEM_FUZZ_E2E_EXAMPLES`, default 150); see tests/fuzzing.py for the operations and the property.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.harness import free_port
from tests.fuzzing import check, operations

ROOT = Path(__file__).resolve().parents[2]


def test_fuzzed_operations_against_a_real_server(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "out.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TANDEM_DATABASE_URL": f"sqlite://{tmp_path / 'fuzz.sqlite3'}",
           "TANDEM_BROADCAST_URL": "memory://", "TANDEM_RATE_LIMIT_PER_MINUTE": "0", "TANDEM_LOG_LEVEL": "WARNING"}
    env.pop("TANDEM_SIMULATOR_URL", None)
    with out.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--demo", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        token = secret = None
        deadline = time.monotonic() + 120
        while (token is None or secret is None) and time.monotonic() < deadline:
            text = out.read_text()
            token = (m := re.search(r"demo user token: (\S+)", text)) and m.group(1)
            secret = (m := re.search(r"demo client secret: (\S+)", text)) and m.group(1)
            assert proc.poll() is None, text
            time.sleep(0.1)
        assert token and secret
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=30) as http:
            for _ in range(600):
                try:
                    if http.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)

            @settings(max_examples=int(os.environ.get("TANDEM_FUZZ_E2E_EXAMPLES", "150")), deadline=None,
                      database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
            @given(operations(), st.sampled_from([token, token, token, secret, None]))
            def fuzz(op: tuple[str, dict[str, Any]], bearer: str | None) -> None:
                headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
                r = http.post(f"{url}/graphql", json={"query": op[0], "variables": op[1]}, headers=headers)
                check(r.status_code, r.headers.get("content-type", ""), r.json())

            fuzz()
            assert http.get(f"{url}/healthz").status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)
