"""Schema-driven fuzzing through the ASGI app in process (many examples, fast). See tests/fuzzing.py.

`TANDEM_FUZZ_EXAMPLES` (default 300) sets the number of examples, e.g. 10000 for a long local run.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.web import create_app
from tests.conftest import reset_database, settings_for
from tests.fuzzing import ROOT_FIELDS_WITH_ARGS, check, operations


def test_fuzzed_operations_never_answer_an_internal_error(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    config = settings_for(tmp_path, embedded_workers=False)
    app = create_app(config)
    lifespan = app.router.lifespan_context(app)

    async def setup() -> tuple[httpx.AsyncClient, list[str | None]]:
        from app.services.accounts import create_client, create_user, create_user_token

        await reset_database(config.database_url)
        await lifespan.__aenter__()
        client, secret = await create_client("fuzz")
        user = await create_user(client.id, "fuzz")
        token = await create_user_token(client.id, user.id)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tandem")
        return http, [token, token, token, secret, None, "tdm_ut_bogus"]

    http, tokens = loop.run_until_complete(setup())
    assert len(ROOT_FIELDS_WITH_ARGS) >= 15

    async def send(query: str, variables: dict[str, Any], token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        check(r.status_code, r.headers.get("content-type", ""), r.json())

    @settings(max_examples=int(os.environ.get("TANDEM_FUZZ_EXAMPLES", "300")), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(operations(), st.sampled_from(tokens))
    def fuzz(op: tuple[str, dict[str, Any]], token: str | None) -> None:
        loop.run_until_complete(send(op[0], op[1], token))

    try:
        fuzz()
    finally:
        loop.run_until_complete(http.aclose())
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        loop.close()
