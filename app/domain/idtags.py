"""Learning idTags (RFID cards, ISO 15118 ids) from plug sessions, without ever trusting a card
that does not name one car.

An OCPP charger reports the idTag each transaction was started with. A session whose vehicle was
confirmed by *other* evidence (the car's own data, a probe; never an idTag) is a *sighting* of
that tag with that vehicle. A tag is *learnt* for vehicle V when:

- it was seen in at least one confirmed session of V and in none of another vehicle (a household
  card used with two cars is *shared*: evidence for neither, for good);
- it was never *refuted* for V: presented at a charger while V's own data said V was not there
  (unplugged, elsewhere, ACTIVE on another charger), or dismissed by the user;
- it is not generic: a free-vend or default tag some chargers send for every session
  (`GENERIC`, all one character such as 00000000, the charge point's own id or serial, Tandem's
  own remote-start tag; tags Tandem itself sent in a RemoteStartTransaction never reach here);
- no vehicle of the user has it set by the user (user-set tags always stand, never learnt over).

What is learnt is a function of the sightings alone (`learnt`), so every process decides the
same from the database. How a learnt tag counts in pairing is in `app.domain.pairing`: it singles
its car out only over vehicles that are excluded or known to come with another card, never over a
vehicle whose data fits, and it never excludes anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

#: Tags chargers are known to send for every session in free-vend / plug-and-charge-without-card
#: modes, or as placeholders (compared case-insensitively).
GENERIC = frozenset({
    "FREE", "FREEVEND", "FREE_VEND", "FREE-VEND", "FREECHARGE", "FREECHARGING", "NOAUTH", "NO_AUTH",
    "ANONYMOUS", "DEFAULT", "UNKNOWN", "NONE", "NULL", "TEST", "LOCAL", "AUTOSTART", "AUTO", "PNC",
    "PLUGANDCHARGE", "REMOTE", "ADMIN", "MASTER", "GUEST", "123456", "12345678", "1234567890",
})


@dataclass(frozen=True)
class Sighting:
    """One idTag seen with one vehicle: `confirmed` when the vehicle was confirmed on the session
    by other evidence; not confirmed (a refutation) when its own data excluded it there, or the
    user dismissed the tag (`charger_id` None). `session_at`: the charger's plug-in."""

    id_tag: str
    vehicle_id: str
    confirmed: bool
    charger_id: str | None = None
    session_at: datetime | None = None


@dataclass(frozen=True)
class LearntTag:
    """A tag learnt for a vehicle, and the first session that taught it."""

    id_tag: str
    vehicle_id: str
    charger_id: str | None
    session_at: datetime | None

    def origin(self) -> str:
        """Where it was learnt, in words."""
        when = self.session_at.strftime("%Y-%m-%d %H:%M:%S") if self.session_at else "an earlier session"
        where = f" on {self.charger_id}" if self.charger_id else ""
        return f"its session plugged in at {when}{where}"


def generic(tag: str, own: Iterable[str | None] = ()) -> bool:
    """Whether `tag` is one a charger may send whatever the car: a known free-vend or default
    tag, one character repeated (00000000, FFFFFFFF), or one of `own` (the charge point's id and
    serial, Tandem's remote-start tag)."""
    low = tag.strip().upper()
    if not low or low in GENERIC or len(set(low)) == 1:
        return True
    return any(o is not None and low == o.strip().upper() for o in own)


def learnt(sightings: Iterable[Sighting], user_tags: Mapping[str, Iterable[str]],
           own: Iterable[str | None] = ()) -> dict[str, tuple[LearntTag, ...]]:
    """The tags learnt for each vehicle (keyed by vehicle id; vehicles with none left out), from
    every sighting of the user's vehicles and the tags the user set on each (`user_tags`)."""
    own = list(own)
    set_by_user = {t for tags in user_tags.values() for t in tags}
    by_tag: dict[str, list[Sighting]] = {}
    for s in sightings:
        by_tag.setdefault(s.id_tag, []).append(s)
    out: dict[str, list[LearntTag]] = {}
    for tag, seen in sorted(by_tag.items()):
        if tag in set_by_user or generic(tag, own):
            continue
        confirmed = [s for s in seen if s.confirmed]
        vehicles = {s.vehicle_id for s in confirmed}
        if len(vehicles) != 1:
            continue  # never confirmed, or shared between cars
        (vid,) = vehicles
        if any(not s.confirmed and s.vehicle_id == vid for s in seen):
            continue  # presented while its car was elsewhere, or dismissed
        first = min(confirmed, key=lambda s: (s.session_at is None, s.session_at or datetime.min))
        out.setdefault(vid, []).append(LearntTag(tag, vid, first.charger_id, first.session_at))
    return {vid: tuple(tags) for vid, tags in out.items()}


def shared_with(tag: str, vehicle_id: str, sightings: Iterable[Sighting]) -> list[str]:
    """The other vehicles `tag` was confirmed with (it is shared when there are any)."""
    return sorted({s.vehicle_id for s in sightings if s.id_tag == tag and s.confirmed and s.vehicle_id != vehicle_id})
