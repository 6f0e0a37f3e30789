"""Unlock exceptions of a closed quarter over in-memory stores (`fakes.py`): granted for one branch
or one institution into a closed quarter only, announced and audited, revoked once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alliance_evaluation.usecases import unlocks
from alliance_evaluation.usecases.unlocks import GrantUnlock
from alliance_shared.auth import Principal
from alliance_shared.contracts.evaluation import PeriodUnlocked, PeriodUnlockRevoked
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Conflict, Invalid

from .fakes import FakeReadModels, FakeUnlockStore, unit

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
SECRETARIAT = Principal("sec-1", Role.SECRETARIAT)


def grant(**scope: str) -> GrantUnlock:
    return GrantUnlock(**scope, requested_by="inst-a 党委", reason="系统故障补报", until=NOW + timedelta(days=3))


async def test_a_branch_is_let_into_a_closed_quarter_until_a_moment_announced_and_audited() -> None:
    u = unit(NOW)
    assert isinstance(u.models, FakeReadModels) and isinstance(u.unlocks, FakeUnlockStore)
    u.models.periods["2026-Q3"] = {"status": "closed"}
    u.projections.institutions_by_org["org-1"] = ["inst-a"]  # type: ignore[attr-defined]
    entry = await unlocks.grant(u, "2026-Q3", grant(organization_id="org-1"), SECRETARIAT)
    assert (entry["status"], entry["organization_id"], entry["granted_by"]) == ("active", "org-1", "sec-1")
    assert [type(p) for p, _ in u.unlocks.events] == [PeriodUnlocked]
    assert [r["action"] for r in u.models.trail.records.values()] == ["period.unlocked"]
    assert [e["id"] for e in await unlocks.of(u, "2026-Q3", organization_id="org-1")] == [entry["id"]]


async def test_an_open_quarter_needs_no_unlock_and_a_grant_names_one_branch_or_one_institution() -> None:
    u = unit(NOW)
    with pytest.raises(Conflict) as refused:
        await unlocks.grant(u, "2026-Q4", grant(institution_id="inst-a"), SECRETARIAT)
    assert refused.value.code == "period_open"
    with pytest.raises(Invalid):
        await unlocks.grant(u, "2026-Q4", grant(organization_id="org-1", institution_id="inst-a"), SECRETARIAT)


async def test_a_revoked_exception_is_revoked_once() -> None:
    u = unit(NOW)
    assert isinstance(u.models, FakeReadModels) and isinstance(u.unlocks, FakeUnlockStore)
    u.models.periods["2026-Q3"] = {"status": "closed"}
    entry = await unlocks.grant(u, "2026-Q3", grant(institution_id="inst-a"), SECRETARIAT)
    revoked = await unlocks.revoke(u, "2026-Q3", entry["id"], SECRETARIAT)
    assert (revoked["status"], revoked["revoked_by"]) == ("revoked", "sec-1")
    with pytest.raises(Conflict):
        await unlocks.revoke(u, "2026-Q3", entry["id"], SECRETARIAT)
    assert [type(p) for p, _ in u.unlocks.events] == [PeriodUnlocked, PeriodUnlockRevoked]
