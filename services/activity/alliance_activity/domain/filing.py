"""Who filed a report, and on whose behalf (上级代办): a branch's own secretary or its institution's
system files for the branch itself; the institution's Party admin (the Party committee's), the
secretary of a committee or general branch above the branch, or the secretariat filing a branch's
report files it on the branch's behalf. Both go into the canonical
event (`filedby`, `onbehalfof`, overwriting whatever the sender put there) and the stored record."""

from __future__ import annotations

from dataclasses import replace

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Forbidden

from .model import Accepted, Reporter

SUPERIORS = (Role.INSTITUTION_ADMIN, Role.SECRETARIAT)
SUBMITTING_ROLES = (Role.INSTITUTION_ADMIN, Role.BRANCH_SECRETARY, Role.REGULATOR)




def filed(a: Accepted, reporter: Reporter) -> Accepted:
    """`a` stamped with its filer and, for a superior's filing of a branch's report (the
    institution's Party admin, the secretariat, or the secretary of the committee or general branch
    above it), the branch."""
    branch = getattr(a.payload, "organization_id", None)
    above = reporter.role is Role.BRANCH_SECRETARY and reporter.organization_id not in (None, branch)
    on_behalf = branch if (reporter.role in SUPERIORS or above) and isinstance(branch, str) else None
    event = a.event.with_extensions(filedby=reporter.key_id or reporter.subject, onbehalfof=on_behalf)
    return replace(a, event=event, facts={**a.facts, "on_behalf_of": on_behalf})


def reporter_of(principal: Principal) -> Reporter:
    """Machines and the people who report activity; anyone else may not submit."""
    if not principal.is_machine and principal.role not in SUBMITTING_ROLES:
        raise Forbidden("该角色不能上报活动 / this role does not report activity", field="role")
    return Reporter(
        subject=principal.subject,
        institution_id=principal.institution_id,
        role=principal.role,
        organization_id=principal.organization_id,
        key_id=principal.key_id,
    )
