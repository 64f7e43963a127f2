"""E2E fixtures: a running stack with fast intervals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import settings_for
from tests.e2e.harness import Stack, stack

FAST = dict(charger_poll_s=1.0, vehicle_poll_s=30.0, vehicle_poll_charging_s=10.0, confirm_poll_s=1.0,
            confirm_window_s=20.0, action_check_s=0.5, action_timeout_s=30.0,
            verify_charger_s=3.0, verify_vehicle_s=4.5, wake_wait_s=1.5, poll_jitter=0.0, backoff_max_s=4.0,
            relogin_attempts=3, relogin_backoff_s=0.5)


@pytest.fixture
async def st(tmp_path: Path) -> AsyncIterator[Stack]:
    """Tandem + simulator on real sockets, embedded workers, fast intervals."""
    async with stack(settings_for(tmp_path, **FAST), sim_speed=1.0) as running:
        yield running
