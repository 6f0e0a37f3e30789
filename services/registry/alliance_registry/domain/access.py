"""Who may do what (issue 3): the secretariat everything; an institution admin only its own
institution; a branch secretary only its own organisation; a machine key only reads its own
institution. Pure decisions over ids; the handlers load the documents and audit refusals."""

from __future__ import annotations

from collections.abc import Sequence

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role

_READERS_OF_ALL_INSTITUTIONS = (Role.SECRETARIAT, Role.EVALUATOR, Role.REGULATOR)


def may_read_institution(who: Principal, institution_id: str) -> bool:
    return who.role in _READERS_OF_ALL_INSTITUTIONS or who.institution_id == institution_id


def may_manage_institution(who: Principal, institution_id: str) -> bool:
    """Reclassify, issue and revoke keys: people only, never a machine key."""
    if who.is_machine:
        return False
    return who.is_secretariat or (who.role is Role.INSTITUTION_ADMIN and who.institution_id == institution_id)


def may_read_organization(who: Principal, organization_id: str, institution_ids: Sequence[str]) -> bool:
    if who.role in _READERS_OF_ALL_INSTITUTIONS:
        return True
    if who.role is Role.BRANCH_SECRETARY:
        return who.organization_id == organization_id
    return who.institution_id in institution_ids


def foreign_institutions(who: Principal, institution_ids: Sequence[str]) -> list[str]:
    """The institutions named in opening an organisation that `who` may not commit: every one
    must be theirs (a joint branch spanning others' institutions is the secretariat's to open,
    never one member's to attach another to)."""
    if who.is_secretariat:
        return []
    if who.is_machine or who.role is not Role.INSTITUTION_ADMIN:
        return list(institution_ids)
    return [iid for iid in institution_ids if iid != who.institution_id]


def may_manage_organization(
    who: Principal, organization_id: str | None, institution_ids: Sequence[str]
) -> bool:
    """Open, update, close an organisation (or manage its members)."""
    if who.is_machine:
        return False
    if who.is_secretariat:
        return True
    if who.role is Role.INSTITUTION_ADMIN:
        return who.institution_id in institution_ids
    if who.role is Role.BRANCH_SECRETARY:
        return organization_id is not None and who.organization_id == organization_id
    return False


def may_read_member(who: Principal, organization_id: str, institution_id: str) -> bool:
    """Personal records: never evaluators or regulators, even masked."""
    if who.is_secretariat:
        return True
    if who.role is Role.BRANCH_SECRETARY:
        return who.organization_id == organization_id
    if who.role is Role.INSTITUTION_ADMIN or who.is_machine:
        return who.institution_id == institution_id
    return False


def may_manage_member(who: Principal, organization_id: str, institution_id: str) -> bool:
    return (
        not who.is_machine and who.role is not None and may_read_member(who, organization_id, institution_id)
    )


def may_decide_transfer(who: Principal, to_organization_id: str, to_institution_id: str) -> bool:
    """Only the receiving side (or the secretariat) accepts or refuses."""
    return may_manage_member(who, to_organization_id, to_institution_id)


def may_read_unmasked(who: Principal) -> bool:
    return who.is_secretariat and not who.is_machine


def may_register_institution(who: Principal) -> bool:
    """Admitting an institution to the alliance is the secretariat's act."""
    return who.is_secretariat and not who.is_machine
