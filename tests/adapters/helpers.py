"""A tiny fake vendor cloud for adapter tests: routes (method, path) to answers, records requests.

Adapters are built the way `app.runtime.Runtime.adapter` builds them (`registry.build(vendor,
base_url, timeout_s=..., budget=...)`), plus `transport=httpx.MockTransport(fake)`, so the
adapter's own base-URL handling, headers and error mapping are all exercised.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any

import httpx

from adapters import registry
from adapters.budget import Budget

HOST = "https://vendor.test"

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A settable monotonic clock for Budget."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeCloud:
    """An httpx MockTransport handler: `routes[(METHOD, path-below-prefix)]` → response or callable."""

    def __init__(self, prefix: str, routes: dict[tuple[str, str], Answer] | None = None) -> None:
        self.prefix = prefix
        self.routes: dict[tuple[str, str], Answer] = dict(routes or {})
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.url.host == "vendor.test", request.url
        path = request.url.path
        assert path.startswith(self.prefix + "/"), f"request outside the vendor prefix: {path}"
        key = (request.method, path[len(self.prefix):])
        if key not in self.routes:
            raise AssertionError(f"unexpected request {key}")
        answer = self.routes[key]
        return answer(request) if callable(answer) else answer

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    @property
    def calls(self) -> list[tuple[str, str]]:
        """(method, path below the prefix) of every request, in order."""
        return [(r.method, r.url.path[len(self.prefix):]) for r in self.requests]

    def body(self, index: int = -1) -> Any:
        """The JSON body of one recorded request (None when it had none)."""
        raw = self.requests[index].content
        return json.loads(raw) if raw else None


def build(vendor: str, cloud: FakeCloud, clock: FakeClock | None = None) -> Any:
    """An adapter for `vendor` wired to `cloud` the way the runtime builds one."""
    budget = Budget(1000, 1000.0, clock=clock) if clock else Budget(1000, 1000.0)
    return registry.build(vendor, HOST + cloud.prefix, timeout_s=2.0, budget=budget, transport=cloud.transport())


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON answer."""
    return httpx.Response(status, json=body, headers=headers)


def raw(content: bytes | str, status: int = 200, content_type: str = "text/html") -> httpx.Response:
    """A non-JSON (or broken JSON) answer."""
    return httpx.Response(status, content=content, headers={"content-type": content_type})


def raising(exc_type: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    """An answer that fails at the transport level, like a real timeout or refused connection."""

    def answer(request: httpx.Request) -> httpx.Response:
        raise exc_type(f"simulated {exc_type.__name__}", request=request)

    return answer


def rendered(exc: BaseException) -> str:
    """What a log line or traceback would show about `exc` and the exceptions chained to it
    (messages only: not the source lines of the test's own frames)."""
    shown: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        shown += [str(seen), repr(seen), repr(seen.args), *traceback.format_exception_only(seen)]
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return "\n".join(shown)
