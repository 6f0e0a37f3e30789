"""A member's roll history as stints: from registry changes (registered, status changed, left,
transferred), in any arrival order, to who was on which branch's roll on which day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .facts import Stint

PARTY_STATUSES = frozenset({"full", "probationary"})
_ORDER = {"registered": 0, "transfer": 1, "status": 2, "left": 3}


@dataclass(frozen=True, slots=True)
class RollChange:
    event_id: str
    on: date
    kind: str  # registered | status | transfer | left
    organization_id: str | None = None  # the organisation the member is in after the change
    status: str | None = None
    pocket: bool = False


def stints_of(member_id: str, changes: list[RollChange]) -> list[Stint]:
    out: list[Stint] = []
    current: tuple[str, date, str, bool] | None = None  # org, since, status, pocket
    for ch in sorted(changes, key=lambda c: (c.on, _ORDER.get(c.kind, 9), c.event_id)):
        if current is not None:  # every change ends the stint in force
            org, since, status, pocket = current
            if ch.on > since:
                out.append(Stint(member_id, org, since, ch.on, status in PARTY_STATUSES, pocket))
            current = None
        if ch.kind == "left":
            continue
        if ch.organization_id is None:
            continue
        status = ch.status or "full"
        current = (ch.organization_id, ch.on, status, ch.pocket)
    if current is not None:
        org, since, status, pocket = current
        out.append(Stint(member_id, org, since, None, status in PARTY_STATUSES, pocket))
    return out
