"""The secretariat's follow-up record on a lagging branch (跟进记录): contacted or not, the reason
given, the date the branch promised to meet by. Two people may edit it at once, so every save
names the version it was read at and only one of two concurrent saves wins (409 for the other).
A save changes only the fields it names (a field left out keeps its value; one sent as null is
cleared) and appends to the record's history who saved, when, and each field's before and after."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Conflict
from alliance_shared.mongo import VersionConflict
from pydantic import BaseModel, ConfigDict, Field

from ..adapters.dashboard_views import follow_up_public
from ..domain.errors import UnknownOrganization
from . import audit
from .unit import EvaluationUnit


class RecordFollowUp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, description="the version the record was read at (0: none yet)")
    contacted: bool | None = None
    contacted_on: date | None = None
    reason: str | None = Field(default=None, max_length=500)
    promised_on: date | None = None
    note: str | None = Field(default=None, max_length=2000)

    def named(self) -> dict[str, Any]:
        """The fields this save names, as stored (dates as ISO text, texts trimmed)."""
        out: dict[str, Any] = {}
        for name in sorted(self.model_fields_set - {"version"}):
            value = getattr(self, name)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, str):
                value = value.strip()
            elif value is None and name == "contacted":
                value = False
            elif value is None and name in ("reason", "note"):
                value = ""
            out[name] = value
        return out


EDITABLE = {"contacted": False, "contacted_on": None, "reason": "", "promised_on": None, "note": ""}


def changes(before: Mapping[str, Any], named: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each named field whose value differs from the record's: `{field: {"from", "to"}}`."""
    return {
        k: {"from": before.get(k, EDITABLE[k]), "to": v}
        for k, v in named.items()
        if before.get(k, EDITABLE[k]) != v
    }


class FollowUpChanged(Conflict):
    def __init__(self, organization_id: str) -> None:
        super().__init__(
            f"跟进记录已被他人修改，请刷新 / follow-up of {organization_id} changed since you read it",
            field="version",
        )


async def record_follow_up(
    ev: EvaluationUnit, who: Principal, organization_id: str, cmd: RecordFollowUp
) -> dict[str, Any]:
    who.require_role(Role.SECRETARIAT)
    lagging = await ev.models.lagging_entry(organization_id)
    if lagging is None:
        raise UnknownOrganization(organization_id)
    now = ev.clock.now()
    named = cmd.named()
    signed = {"updated_by": who.subject, "updated_at": now}
    if cmd.version == 0:
        changed = changes({}, named)
        doc = {
            "_id": organization_id,
            "version": 1,
            "institution_id": lagging.get("institution_id"),
            **EDITABLE,
            **named,
            **signed,
            "history": [{"version": 1, "by": who.subject, "at": now, "changes": changed}],
        }
        if not await ev.models.first_follow_up(doc):
            raise FollowUpChanged(organization_id)
    else:
        before = (await ev.models.follow_ups([organization_id])).get(organization_id) or {}
        if before.get("version") != cmd.version:
            raise FollowUpChanged(organization_id)
        changed = changes(before, named)
        entry = {"version": cmd.version + 1, "by": who.subject, "at": now, "changes": changed}
        try:
            doc = await ev.models.next_follow_up(organization_id, cmd.version, {**named, **signed}, entry)
        except VersionConflict as exc:
            raise FollowUpChanged(organization_id) from exc
    await audit.record(
        ev.models.trail, who, "follow_up.recorded", "branch", organization_id, now,
        institution_id=lagging.get("institution_id"), version=doc["version"], fields=sorted(changed),
    )  # fmt: skip
    return {"organization_id": organization_id, **follow_up_public(doc)}
