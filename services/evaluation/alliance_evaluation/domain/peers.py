"""Peer groups (同类组): institutions and branches are ranked only against others weighed by the same
weights — the same ownership class by default, optionally narrowed by sector and reporting level.
An all-institutions ordering is a different thing (全部机构排名, not 组内排名) and says so.

Competition ranks by score inside each group (1 + how many in the group score higher); a 待评 row
(no data) belongs to its group but is never ranked and never counted above anyone."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Grouping = Literal["ownership", "ownership_sector", "ownership_level", "ownership_sector_level", "all"]
GROUPINGS: dict[str, tuple[str, ...]] = {
    "ownership": ("ownership",),
    "ownership_sector": ("ownership", "sector"),
    "ownership_level": ("ownership", "reporting_level"),
    "ownership_sector_level": ("ownership", "sector", "reporting_level"),
    "all": (),
}
DEFAULT_GROUPING: Grouping = "ownership"
OWNERSHIP_ORDER = ("state_owned", "private", "emerging")
RANK_LABEL = {
    True: "组内排名 / rank within the peer group",
    False: "全部机构排名（不分组，各类权重不同）/ rank among all, not a peer ranking",
}

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PeerGroup:
    """One group: the values of its dimensions, in the grouping's order, and its size."""

    dimensions: tuple[tuple[str, str], ...]
    size: int = 0

    @property
    def key(self) -> str:
        return "|".join(v for _, v in self.dimensions) or "all"

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, **dict(self.dimensions), "size": self.size}


@dataclass(frozen=True, slots=True)
class Standing:
    """A row's place: its group, its rank in it (None: 待评), the group's size."""

    group: PeerGroup
    rank: int | None


def dimensions_of(grouping: str) -> tuple[str, ...]:
    return GROUPINGS[grouping]


def group_key(row: Row, dims: Sequence[str]) -> tuple[tuple[str, str], ...]:
    return tuple((d, str(row.get(d) or "")) for d in dims)


def group_order(key: tuple[tuple[str, str], ...]) -> tuple[Any, ...]:
    """Groups in a stable reading order: state-owned, private, emerging, then by the other values."""
    out: list[Any] = []
    for dim, value in key:
        if dim == "ownership":
            out.append((OWNERSHIP_ORDER.index(value) if value in OWNERSHIP_ORDER else len(OWNERSHIP_ORDER), value))
        else:
            out.append((0, value))
    return tuple(out)


def standings(
    rows: Iterable[Row], grouping: str, unranked: Callable[[Any], bool] = lambda r: False
) -> dict[str, Standing]:
    """Row id → its standing in its peer group under `grouping`. Rows for which `unranked` holds
    (待评) are members of their group without a rank; those without a score rank last."""
    dims = dimensions_of(grouping)
    members: dict[tuple[tuple[str, str], ...], list[Row]] = defaultdict(list)
    for r in rows:
        members[group_key(r, dims)].append(r)
    out: dict[str, Standing] = {}
    for key, group_rows in members.items():
        group = PeerGroup(key, len(group_rows))
        ranked = [r for r in group_rows if not unranked(r)]
        scores = sorted(r["score"] for r in ranked if r.get("score") is not None)
        for r in group_rows:
            rank = None if unranked(r) else _competition_rank(scores, r.get("score"))
            out[str(r["id"])] = Standing(group, rank)
    return out


def groups_of(found: Mapping[str, Standing]) -> list[PeerGroup]:
    """The distinct groups of `found`, in reading order."""
    seen = {s.group.dimensions: s.group for s in found.values()}
    return [seen[k] for k in sorted(seen, key=group_order)]


def _competition_rank(scores: list[Any], score: Any) -> int:
    if score is None:
        return len(scores) + 1
    return len(scores) - bisect.bisect_right(scores, score) + 1
