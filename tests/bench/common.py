"""Shared pieces of the benchmarks: subprocesses, load generation, percentiles, memory."""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
#: One vendor-secret key shared by every process a benchmark starts (PostgreSQL needs one).
BENCH_SECRET_KEYS = os.environ.get("TANDEM_SECRET_KEYS") or Fernet.generate_key().decode()


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of `values` (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass
class Load:
    """What a fixed-size load run measured."""

    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds

    def line(self, name: str) -> str:
        """One printable line."""
        return (f"{name:<12} {self.rps:9.1f} req/s   p50 {pct(self.latencies_ms, 50):7.2f} ms   "
                f"p99 {pct(self.latencies_ms, 99):7.2f} ms   errors {self.errors}")


async def load(call: Callable[[], Awaitable[bool]], total: int, concurrency: int) -> Load:
    """Run `call` `total` times from `concurrency` concurrent clients."""
    latencies: list[float] = []
    errors = 0
    left = total

    async def client() -> None:
        nonlocal left, errors
        while left > 0:
            left -= 1
            start = time.perf_counter()
            ok = await call()
            latencies.append((time.perf_counter() - start) * 1000)
            errors += 0 if ok else 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return Load(total, time.perf_counter() - start, latencies, errors)


class Service:
    """A subprocess (tandem, the simulator) whose stdout lines we can wait for."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, args: list[str], env: dict[str, str]) -> Service:
        """Start `args` with `env` added to this environment."""
        proc = await asyncio.create_subprocess_exec(
            *args, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", "TANDEM_RATE_LIMIT_PER_MINUTE": "0",
                                  "TANDEM_SECRET_KEYS": BENCH_SECRET_KEYS, **env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        return cls(proc)

    async def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Read output until a line matches `pattern`."""
        assert self.proc.stdout is not None
        end = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), max(0.1, end - time.monotonic()))
            if not raw:
                raise RuntimeError("process exited:\n" + "".join(self.lines[-20:]))
            line = raw.decode()
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def drain(self) -> None:
        """Keep reading output in the background so the pipe never blocks the process."""
        async def pump() -> None:
            assert self.proc.stdout is not None
            while await self.proc.stdout.readline():
                pass
        self._pump = asyncio.create_task(pump())

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the process (Linux VmHWM), in MB."""
        return peak_rss_mb(self.proc.pid)

    async def stop(self) -> None:
        """Terminate and wait."""
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory of `pid` (default: this process), in MB."""
    path = f"/proc/{pid or os.getpid()}/status"
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tandem_cmd(*args: str) -> list[str]:
    """The `tandem` command run by this interpreter."""
    return [sys.executable, "-m", "app.cli", *args]


def temp_sqlite() -> str:
    """A database URL of a fresh SQLite file (or TANDEM_BENCH_DATABASE_URL)."""
    url = os.environ.get("TANDEM_BENCH_DATABASE_URL")
    if url:
        return url
    return "sqlite://" + os.path.join(tempfile.mkdtemp(prefix="tandem-bench-"), "bench.sqlite3")


def free_port() -> int:
    """A free TCP port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def gql(http: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any] | None = None,
              token: str | None = None) -> dict[str, Any]:
    """POST one GraphQL operation that must succeed; its data."""
    r = await http.post(url, json={"query": query, "variables": variables or {}},
                        headers={"Authorization": f"Bearer {token}"} if token else {})
    body = r.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return dict(body["data"])


async def ready(http: httpx.AsyncClient, base: str, timeout: float = 60) -> None:
    """Wait until a Tandem web process answers /readyz."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if (await http.get(f"{base}/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{base} not ready")


def summary(values: list[float]) -> str:
    """p50/p95/max of a list of seconds."""
    if not values:
        return "n/a"
    return (f"p50 {pct(values, 50):.1f} s, p95 {pct(values, 95):.1f} s, max {max(values):.1f} s "
            f"(mean {statistics.mean(values):.1f} s, n={len(values)})")


@dataclass
class DemoStack:
    """A running `tandem serve --demo` against a standalone simulator."""

    http: httpx.AsyncClient
    url: str
    sim_url: str
    web: Service


@asynccontextmanager
async def demo_stack(env: dict[str, str], sim_speed: float = 1.0,
                     sim_env: dict[str, str] | None = None) -> AsyncIterator[DemoStack]:
    """Start the simulator (its environment plus `sim_env`) and `tandem serve --demo` (settings
    from `env`; ports chosen here)."""
    sim_port, port = free_port(), free_port()
    sim = await Service.start(tandem_cmd("simulate", "--port", str(sim_port), "--speed", str(sim_speed)),
                              sim_env or {})
    await sim.wait_for("simulator: ")
    sim.drain()
    sim_url = f"http://127.0.0.1:{sim_port}"
    web = await Service.start(tandem_cmd("serve", "--demo"),
                              {**env, "TANDEM_PORT": str(port), "TANDEM_SIMULATOR_URL": sim_url})
    try:
        await web.wait_for("demo user token: ", timeout=120)
        web.drain()
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=60) as http:
            await ready(http, url)
            yield DemoStack(http, url, sim_url, web)
    finally:
        await web.stop()
        await sim.stop()
