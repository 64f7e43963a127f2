"""Shared fixtures for the vendor simulator tests: a world on a hand-driven clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.simulator.app import create_app
from adapters.simulator.world import Clock, World

# 2024-01-01T12:00:00Z: a fixed simulated start so schedules (UTC HH:MM windows) are deterministic.
EPOCH = 1704110400.0
SPEED = 60.0


class RealTime:
    """A stand-in for time.monotonic that only moves when a test moves it."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        """Let `seconds` of real time pass."""
        self.t += seconds


def make_world(real: RealTime, speed: float = SPEED, seed: int = 7) -> World:
    """A world whose clock starts at EPOCH and runs `speed` simulated seconds per (fake) real second."""
    clock = Clock(speed=speed, real=real)
    clock.start = EPOCH
    return World(clock, seed=seed)


@pytest.fixture
def real() -> RealTime:
    return RealTime()


@pytest.fixture
def world(real: RealTime) -> World:
    return make_world(real)


@pytest.fixture
def app(world: World):
    return create_app(world)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as c:
        yield c


@pytest.fixture
async def loose_client(app) -> AsyncIterator[httpx.AsyncClient]:
    """Like `client`, but an exception escaping the app becomes whatever response it sent (as under uvicorn)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        yield c
