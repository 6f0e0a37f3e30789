"""What the registry does, on one screen: every command and the use case that carries it out.
Each use case (in `usecases/`) takes the command and the caller, loads, decides (domain), stores
the change with its events in the same document (outbox) and wakes the relay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role

from .domain import commands
from .usecases.context import RegistryUnit
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


COMMAND_HANDLERS: dict[type, Callable[[RegistryUnit, Any, Principal], Awaitable[Any]]] = {
    commands.RegisterInstitution: register_institution,
    commands.ReclassifyInstitution: reclassify_institution,
    commands.IssueApiKey: issue_api_key,
    commands.RevokeApiKey: revoke_api_key,
    commands.OpenOrganization: open_organization,
    commands.UpdateOrganization: update_organization,
    commands.CloseOrganization: close_organization,
    commands.RegisterMember: register_member,
    commands.ChangeMember: change_member,
    commands.MemberLeaves: member_leaves,
    commands.RevealMemberPii: reveal_member_pii,
    commands.RequestTransfer: request_transfer,
    commands.AcceptTransfer: accept_transfer,
    commands.RefuseTransfer: refuse_transfer,
    commands.ScanOverdueTransfers: scan_overdue_transfers,
}


async def handle(reg: RegistryUnit, cmd: object, who: Principal) -> Any:
    """Carry out `cmd` for `who` (the one entry point the routes, the importer and the scheduler use)."""
    return await COMMAND_HANDLERS[type(cmd)](reg, cmd, who)
