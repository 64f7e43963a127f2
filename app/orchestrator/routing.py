"""Which path to try next: by capability (given), then by each path's recent success for the
asset, and away from paths this action already tried without result."""

from __future__ import annotations

from app import metrics
from app.domain.capabilities import Path

ALPHA = 0.2
#: Every path starts equal, so ties keep the capability table's order (native vehicle first).
PRIOR = 0.85
_ewma: dict[tuple[str, str], float] = {}


def score(asset_id: str, via: str) -> float:
    """Recent success rate of commands through `via` for this asset (optimistic prior)."""
    return _ewma.get((asset_id, via), PRIOR)


def record(asset_id: str, vendor: str, via: str, ok: bool) -> None:
    """Update a path's success rate after a command (and the per-vendor gauge)."""
    key = (asset_id, via)
    _ewma[key] = (1 - ALPHA) * score(asset_id, via) + ALPHA * (1.0 if ok else 0.0)
    metrics.PATH_SUCCESS.labels(via, vendor).set(_ewma[key])
    metrics.COMMANDS.labels(via, vendor, "ok" if ok else "error").inc()


def order(paths: list[Path], asset_of: dict[str, str], tries: dict[str, int], excluded: set[str],
          first: str | None = None) -> list[Path]:
    """Candidate paths, best first: `first` (a via that must lead, when usable), then the path
    tried least by this action, then the higher success rate. `asset_of[via]`: what it commands."""
    usable = [p for p in paths if p.via not in excluded]
    return sorted(usable, key=lambda p: (p.via != first, tries.get(p.via, 0), -score(asset_of[p.via], p.via)))
