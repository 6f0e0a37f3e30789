"""Events of the registry service on `registry.events.v1`, keyed by institution id so that one
institution's history stays in order. Other services build their projections from these alone.

Contacts travel sealed (see `alliance_shared.pii`): only services holding the PII key (notification)
can open them; everyone else sees the masked form.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .base import AwareDatetime, EventPayload, Id
from .topics import REGISTRY_EVENTS
from .vocabulary import AllianceRole, MemberStatus, OrganizationKind, Ownership, PartyOrgStatus, ReportingLevel


class RegistryEvent(EventPayload):
    """A registry event, keyed by its institution: an organisation's or a member's event stays in
    order with the institution's own (a member moves between organisations of one institution)."""

    keyed_by: ClassVar[tuple[str, ...]] = ("institution_id",)


class Contact(BaseModel):
    """A person to remind: name, and email/phone both sealed and masked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    email_sealed: str | None = None
    email_masked: str | None = None
    phone_sealed: str | None = None
    phone_masked: str | None = None


class InstitutionClassification(BaseModel):
    """The attributes that classify an institution, valid from a date (effective-dated)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ownership: Ownership
    party_org_status: PartyOrgStatus
    reporting_level: ReportingLevel
    alliance_role: AllianceRole = AllianceRole.MEMBER
    sector: str = ""


class InstitutionRegistered(RegistryEvent):
    event_type = "fpba.institution.registered.v1"
    kafka_topic = REGISTRY_EVENTS

    institution_id: Id
    uscc: str
    name: str
    classification: InstitutionClassification
    effective_from: date
    contact: Contact | None = None


class InstitutionReclassified(RegistryEvent):
    """Some classifying attribute changed from `effective_from`; `classification` is the new whole."""

    event_type = "fpba.institution.reclassified.v1"
    kafka_topic = REGISTRY_EVENTS

    institution_id: Id
    classification: InstitutionClassification
    previous: InstitutionClassification
    effective_from: date
    name: str | None = None
    contact: Contact | None = None


class OrganizationOpened(RegistryEvent):
    event_type = "fpba.organization.opened.v1"
    kafka_topic = REGISTRY_EVENTS

    organization_id: Id
    institution_id: Id  # the owning (first) institution: the ordering key
    institution_ids: list[Id] = Field(min_length=1)  # several for a joint branch
    name: str
    kind: OrganizationKind
    parent_id: str | None = None
    established_at: date
    has_party_groups: bool = False
    secretary: Contact | None = None


class OrganizationUpdated(RegistryEvent):
    event_type = "fpba.organization.updated.v1"
    kafka_topic = REGISTRY_EVENTS

    organization_id: Id
    institution_id: Id
    institution_ids: list[Id]
    name: str
    parent_id: str | None = None
    has_party_groups: bool = False
    secretary: Contact | None = None


class OrganizationClosed(RegistryEvent):
    """A branch closed: from `closed_at` it is no longer expected to report."""

    event_type = "fpba.organization.closed.v1"
    kafka_topic = REGISTRY_EVENTS

    organization_id: Id
    institution_id: Id
    closed_at: date


class MemberRegistered(RegistryEvent):
    """A person entered an organisation's roll. No personal data travels: ids and status only."""

    event_type = "fpba.member.registered.v1"
    kafka_topic = REGISTRY_EVENTS

    member_id: Id
    organization_id: Id
    institution_id: Id
    status: MemberStatus
    joined_at: date
    pocket: bool = False  # 口袋党员: relation held outside the alliance
    cadre_roles: list[str] = Field(default_factory=list)  # party_affairs_full_time, dual_responsibility, ...


class MemberStatusChanged(RegistryEvent):
    """A step in the development pipeline, or a change of the pocket-member flag or cadre roles."""

    event_type = "fpba.member.status_changed.v1"
    kafka_topic = REGISTRY_EVENTS

    member_id: Id
    organization_id: Id
    institution_id: Id
    status: MemberStatus
    previous_status: MemberStatus
    effective_at: date
    pocket: bool = False
    cadre_roles: list[str] = Field(default_factory=list)


class MemberLeft(RegistryEvent):
    """A member left the roll (death, expulsion, relation moved out of the alliance)."""

    event_type = "fpba.member.left.v1"
    kafka_topic = REGISTRY_EVENTS

    member_id: Id
    organization_id: Id
    institution_id: Id
    left_at: date
    reason: str = ""


class TransferRequested(RegistryEvent):
    """组织关系转接 began: the receiving organisation must accept or refuse by `deadline`."""

    event_type = "fpba.member.transfer_requested.v1"
    kafka_topic = REGISTRY_EVENTS

    transfer_id: Id
    member_id: Id
    institution_id: Id  # sending institution
    from_organization_id: Id
    to_organization_id: Id
    to_institution_id: Id
    requested_at: AwareDatetime
    deadline: date


class TransferAccepted(RegistryEvent):
    """The member now belongs to `to_organization_id` from `effective_at`."""

    event_type = "fpba.member.transfer_accepted.v1"
    kafka_topic = REGISTRY_EVENTS

    transfer_id: Id
    member_id: Id
    institution_id: Id
    from_organization_id: Id
    to_organization_id: Id
    to_institution_id: Id
    effective_at: date
    status: MemberStatus


class TransferRefused(RegistryEvent):
    event_type = "fpba.member.transfer_refused.v1"
    kafka_topic = REGISTRY_EVENTS

    transfer_id: Id
    member_id: Id
    institution_id: Id
    from_organization_id: Id
    to_organization_id: Id
    reason: str = ""


class TransferOverdue(RegistryEvent):
    """A transfer is still pending past its deadline: both organisations get reminded."""

    event_type = "fpba.member.transfer_overdue.v1"
    kafka_topic = REGISTRY_EVENTS

    transfer_id: Id
    member_id: Id
    institution_id: Id
    from_organization_id: Id
    to_organization_id: Id
    to_institution_id: Id
    requested_at: AwareDatetime
    deadline: date
    days_overdue: int


class ApiKeyIssued(RegistryEvent):
    """A machine credential for one institution. `key_hash` is SHA-256 of the key; `sealed_key`
    is the key sealed with the platform's PII key, so the activity service can check webhook
    HMAC signatures (keyed with the key itself) without any synchronous call."""

    event_type = "fpba.api_key.issued.v1"
    kafka_topic = REGISTRY_EVENTS

    institution_id: Id
    key_id: Id
    key_hash: str
    sealed_key: str
    prefix: str
    issued_at: AwareDatetime


class ApiKeyRevoked(RegistryEvent):
    """A machine credential stops working. Every consumer that checks keys applies it the moment
    it reads it (activity: a listener per process, `ce_type` filtered): the registry's 204 means
    the key is refused everywhere within 1 s."""

    event_type = "fpba.api_key.revoked.v1"
    kafka_topic = REGISTRY_EVENTS

    institution_id: Id
    key_id: Id
    revoked_at: AwareDatetime


PAYLOADS: tuple[type[EventPayload], ...] = (
    InstitutionRegistered, InstitutionReclassified,
    OrganizationOpened, OrganizationUpdated, OrganizationClosed,
    MemberRegistered, MemberStatusChanged, MemberLeft,
    TransferRequested, TransferAccepted, TransferRefused, TransferOverdue,
    ApiKeyIssued, ApiKeyRevoked,
)
