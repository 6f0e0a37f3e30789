"""What the registry does, on one screen: every command and the use case that carries it out.
Each use case (in `usecases/`) takes the command and the caller, loads, decides (domain), stores
the change with its events in the same document (outbox) and wakes the relay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role

from .domain import commands as c
from .usecases.context import Registry
from .usecases.institutions import (
    issue_api_key,
    load_institution,
    reclassify_institution,
    register_institution,
    resolve_api_key,
    revoke_api_key,
)
from .usecases.members import (
    accept_transfer,
    change_member,
    load_member,
    member_leaves,
    refuse_transfer,
    register_member,
    request_transfer,
    reveal_member_pii,
    scan_overdue_transfers,
)
from .usecases.organizations import (
    close_organization,
    load_organization,
    open_organization,
    update_organization,
)

SYSTEM = Principal(subject="system:registry", role=Role.SECRETARIAT)

__all__ = [
    "COMMAND_HANDLERS",
    "SYSTEM",
    "handle",
    "load_institution",
    "load_member",
    "load_organization",
    "resolve_api_key",
]


COMMAND_HANDLERS: dict[type, Callable[[Registry, Any, Principal], Awaitable[Any]]] = {
    c.RegisterInstitution: register_institution,
    c.ReclassifyInstitution: reclassify_institution,
    c.IssueApiKey: issue_api_key,
    c.RevokeApiKey: revoke_api_key,
    c.OpenOrganization: open_organization,
    c.UpdateOrganization: update_organization,
    c.CloseOrganization: close_organization,
    c.RegisterMember: register_member,
    c.ChangeMember: change_member,
    c.MemberLeaves: member_leaves,
    c.RevealMemberPii: reveal_member_pii,
    c.RequestTransfer: request_transfer,
    c.AcceptTransfer: accept_transfer,
    c.RefuseTransfer: refuse_transfer,
    c.ScanOverdueTransfers: scan_overdue_transfers,
}


async def handle(reg: Registry, cmd: object, who: Principal) -> Any:
    """Carry out `cmd` for `who` (the one entry point the routes, the importer and the scheduler use)."""
    return await COMMAND_HANDLERS[type(cmd)](reg, cmd, who)
