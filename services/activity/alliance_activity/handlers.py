"""What the activity service does with the events it reads, on one screen: the registry's facts
become the projection the assessor reads (`REGISTRY_HANDLERS`, over `RegistryCopy`), key events
reach every process's key cache (`KEY_HANDLERS`); evaluation's period events are in
`usecases/period_gate.py`. Each handler is `handler(context, payload, event)`. The reports
themselves go through the one ingestion path, `usecases/ingestion.py`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from alliance_shared.contracts import registry as reg
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.envelope import CloudEvent

from .adapters.keys import ApiKeys
from .adapters.projection import RegistryProjection
from .domain.model import Posting


# -- the registry projection ----------------------------------------------------------------------
@dataclass(frozen=True)
class RegistryCopy:
    """What registry events are applied to: activity's projection of the registry (each write an
    idempotent upsert, buffered until the batch ends, see `RegistryProjection.flush`) and the
    process's key cache (key events at once, as the key listener does in every process)."""

    projection: RegistryProjection
    keys: ApiKeys


async def institution_registered(to: RegistryCopy, p: reg.InstitutionRegistered, _: CloudEvent) -> None:
    to.projection.put_institution(p.institution_id, {"name": p.name, **_classified(p.classification)})


async def institution_reclassified(to: RegistryCopy, p: reg.InstitutionReclassified, _: CloudEvent) -> None:
    to.projection.put_institution(p.institution_id, _classified(p.classification))


async def organization_opened(to: RegistryCopy, p: reg.OrganizationOpened, _: CloudEvent) -> None:
    to.projection.put_organization(
        p.organization_id,
        {
            "institution_id": p.institution_id,
            "institution_ids": list(p.institution_ids),
            "kind": p.kind.value,
            "parent_id": p.parent_id,
            "established_at": p.established_at.isoformat(),
            "closed_at": None,
            "name": p.name,  # the form's branch list
            "has_party_groups": p.has_party_groups,
        },
    )


async def organization_updated(to: RegistryCopy, p: reg.OrganizationUpdated, _: CloudEvent) -> None:
    to.projection.put_organization(
        p.organization_id,
        {
            "institution_id": p.institution_id,
            "institution_ids": list(p.institution_ids),
            "parent_id": p.parent_id,
            "name": p.name,
            "has_party_groups": p.has_party_groups,
        },
    )


async def organization_closed(to: RegistryCopy, p: reg.OrganizationClosed, _: CloudEvent) -> None:
    to.projection.put_organization(p.organization_id, {"closed_at": p.closed_at.isoformat()})


async def member_registered(to: RegistryCopy, p: reg.MemberRegistered, _: CloudEvent) -> None:
    to.projection.put_member(
        p.member_id,
        _posted(p.organization_id, p.institution_id)
        | {"status": p.status.value, "joined_at": p.joined_at.isoformat(), "left_at": None},
        Posting(p.organization_id, p.institution_id, p.joined_at),
    )


async def member_status_changed(to: RegistryCopy, p: reg.MemberStatusChanged, _: CloudEvent) -> None:
    to.projection.put_member(p.member_id, {"status": p.status.value})


async def member_left(to: RegistryCopy, p: reg.MemberLeft, _: CloudEvent) -> None:
    to.projection.put_member(p.member_id, {"left_at": p.left_at.isoformat()})


async def transfer_accepted(to: RegistryCopy, p: reg.TransferAccepted, _: CloudEvent) -> None:
    to.projection.put_member(
        p.member_id,
        _posted(p.to_organization_id, p.to_institution_id) | {"status": p.status.value},
        Posting(p.to_organization_id, p.to_institution_id, p.effective_at),
    )


async def api_key_issued(to: RegistryCopy, p: reg.ApiKeyIssued, _: CloudEvent) -> None:
    to.keys.issued({"_id": p.key_id, **_key_fields(p)})
    to.projection.put_api_key(p.key_id, _key_fields(p))


async def api_key_revoked(to: RegistryCopy, p: reg.ApiKeyRevoked, _: CloudEvent) -> None:
    to.keys.revoked(p.key_id)
    to.projection.put_api_key(p.key_id, {"institution_id": p.institution_id, "revoked_at": p.revoked_at})


async def key_issued(keys: ApiKeys, p: reg.ApiKeyIssued, _: CloudEvent) -> None:
    keys.issued({"_id": p.key_id, **_key_fields(p)})


async def key_revoked(keys: ApiKeys, p: reg.ApiKeyRevoked, _: CloudEvent) -> None:
    keys.revoked(p.key_id)


def _key_fields(p: reg.ApiKeyIssued) -> dict[str, object]:
    return {
        "institution_id": p.institution_id,
        "key_hash": p.key_hash,
        "sealed_key": p.sealed_key,
        "prefix": p.prefix,
        "issued_at": p.issued_at,
        "revoked_at": None,
    }


def _classified(c: reg.InstitutionClassification) -> dict[str, str]:
    return {
        "reporting_level": c.reporting_level.value,
        "ownership": c.ownership.value,
        "alliance_role": c.alliance_role.value,
        "party_org_status": c.party_org_status.value,  # without a Party organisation, the secretariat reviews
    }


def _posted(organization_id: str, institution_id: str) -> dict[str, str]:
    return {"organization_id": organization_id, "institution_id": institution_id}


REGISTRY_HANDLERS: dict[type[EventPayload], Callable[[RegistryCopy, Any, CloudEvent], Awaitable[None]]] = {
    reg.InstitutionRegistered: institution_registered,
    reg.InstitutionReclassified: institution_reclassified,
    reg.OrganizationOpened: organization_opened,
    reg.OrganizationUpdated: organization_updated,
    reg.OrganizationClosed: organization_closed,
    reg.MemberRegistered: member_registered,
    reg.MemberStatusChanged: member_status_changed,
    reg.MemberLeft: member_left,
    reg.TransferAccepted: transfer_accepted,
    reg.ApiKeyIssued: api_key_issued,
    reg.ApiKeyRevoked: api_key_revoked,
}
# the key listener every activity process runs on `registry.events.v1`: key events applied to its
# own cache the moment they are read, no store write (the projection consumer writes)
KEY_HANDLERS: dict[type[EventPayload], Callable[[ApiKeys, Any, CloudEvent], Awaitable[None]]] = {
    reg.ApiKeyIssued: key_issued,
    reg.ApiKeyRevoked: key_revoked,
}
