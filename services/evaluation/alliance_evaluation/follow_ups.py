"""The secretariat's follow-up record on a lagging branch (跟进记录): contacted or not, the reason
given, the date the branch promised to meet by. Two people may edit it at once, so every save
names the version it was read at and only one of two concurrent saves wins (409 for the other)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Conflict
from alliance_shared.mongo import VersionConflict
from pydantic import BaseModel, ConfigDict, Field

from .dashboard_views import follow_up_public
from .domain.errors import UnknownOrganization
from .handlers import Evaluation


class FollowUpRecorded(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, description="the version the record was read at (0: none yet)")
    contacted: bool
    contacted_on: date | None = None
    reason: str = Field(default="", max_length=500)
    promised_on: date | None = None
    note: str = Field(default="", max_length=2000)


class FollowUpChanged(Conflict):
    def __init__(self, organization_id: str) -> None:
        super().__init__(
            f"跟进记录已被他人修改，请刷新 / follow-up of {organization_id} changed since you read it",
            field="version",
        )


async def record_follow_up(
    ev: Evaluation, who: Principal, organization_id: str, cmd: FollowUpRecorded
) -> dict[str, Any]:
    who.require_role(Role.SECRETARIAT)
    lagging = await ev.models.lagging_entry(organization_id)
    if lagging is None:
        raise UnknownOrganization(organization_id)
    now = ev.clock.now()
    fields = {
        "institution_id": lagging.get("institution_id"),
        "contacted": cmd.contacted,
        "contacted_on": cmd.contacted_on.isoformat() if cmd.contacted_on else None,
        "reason": cmd.reason.strip(),
        "promised_on": cmd.promised_on.isoformat() if cmd.promised_on else None,
        "note": cmd.note.strip(),
        "updated_by": who.subject,
        "updated_at": now,
    }
    if cmd.version == 0:
        doc = {"_id": organization_id, "version": 1, **fields}
        if not await ev.models.first_follow_up(doc):
            raise FollowUpChanged(organization_id)
    else:
        try:
            doc = await ev.models.next_follow_up(organization_id, cmd.version, fields)
        except VersionConflict as exc:
            raise FollowUpChanged(organization_id) from exc
    await ev.models.audit(
        {
            "_id": uuid.uuid4().hex,
            "action": "follow_up.recorded",
            "organization_id": organization_id,
            "version": doc["version"],
            "by": who.subject,
            "role": who.role.value if who.role else None,
            "at": now,
        }
    )
    return {"organization_id": organization_id, **follow_up_public(doc)}
