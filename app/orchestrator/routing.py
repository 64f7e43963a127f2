"""Which path to try next: by capability (given), then by each path's recent success for the
asset, and away from paths this action already tried without result.

Success rates live in the database (`PathScore`, one row per asset and via), so every worker
process, and the next one after a restart or a shard move, routes from the same memory.
"""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.exceptions import IntegrityError
from tortoise.expressions import CombinedExpression, Connector, F

from app import metrics
from app.db.models import PathScore
from app.domain.capabilities import Path

ALPHA = 0.2
#: Every path starts equal, so ties keep the capability table's order (native vehicle first).
PRIOR = 0.85
#: (asset id, via) -> success rate in [0, 1].
Scores = dict[tuple[str, str], float]


def updated(score: float, ok: bool) -> float:
    """The success rate after one more command (exponentially weighted, weight ALPHA)."""
    return (1 - ALPHA) * score + ALPHA * (1.0 if ok else 0.0)


def _updated_in_sql(ok: bool) -> CombinedExpression:
    """`updated` as an SQL expression of the stored score."""
    return CombinedExpression(F("score") * (1 - ALPHA), Connector.add, ALPHA * (1.0 if ok else 0.0))


async def scores(asset_ids: Iterable[str]) -> Scores:
    """The recorded success rates of these assets' paths (paths never used are absent)."""
    ids = [a for a in set(asset_ids) if a]
    if not ids:
        return {}
    return {(r.asset_id, r.via): r.score for r in await PathScore.filter(asset_id__in=ids)}


async def score(asset_id: str, via: str) -> float:
    """Recent success rate of commands through `via` for this asset (optimistic prior)."""
    return (await scores([asset_id])).get((asset_id, via), PRIOR)


async def record(asset_id: str, vendor: str, via: str, ok: bool) -> float:
    """Update a path's success rate after a command (and the per-vendor gauge); returns it.

    The update is one atomic UPDATE (score = score * (1 - ALPHA) + ALPHA * outcome), so two
    processes recording at once both count."""
    row = PathScore.filter(asset_id=asset_id, via=via)
    if not await row.update(score=_updated_in_sql(ok)):
        try:
            await PathScore.create(asset_id=asset_id, via=via, score=updated(PRIOR, ok))
        except IntegrityError:  # another process created it meanwhile: count ours on top
            await row.update(score=_updated_in_sql(ok))
    value = await score(asset_id, via)
    metrics.PATH_SUCCESS.labels(via, vendor).set(value)
    metrics.COMMANDS.labels(via, vendor, "ok" if ok else "error").inc()
    return value


async def forget(asset_id: str) -> None:
    """Drop an asset's success rates (it was unlinked)."""
    await PathScore.filter(asset_id=asset_id).delete()


def order(paths: list[Path], asset_of: dict[str, str], tries: dict[str, int], excluded: set[str],
          first: str | None = None, rates: Scores | None = None) -> list[Path]:
    """Candidate paths, best first: `first` (a via that must lead, when usable), then the path
    tried least by this action, then the higher success rate (`rates`, from `scores`; a path
    without one has the PRIOR). `asset_of[via]`: what it commands."""
    rates = rates or {}
    usable = [p for p in paths if p.via not in excluded]
    return sorted(usable, key=lambda p: (p.via != first, tries.get(p.via, 0),
                                         -rates.get((asset_of[p.via], p.via), PRIOR)))
