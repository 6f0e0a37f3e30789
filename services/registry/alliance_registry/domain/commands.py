"""What callers ask the registry to do: imperative, plain data (the routes and the importer
build them; `handlers.COMMAND_HANDLERS` says who carries each out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from alliance_shared.contracts.vocabulary import (
    AllianceRole,
    MemberStatus,
    OrganizationKind,
    Ownership,
    PartyOrgStatus,
    ReportingLevel,
)

if TYPE_CHECKING:  # a plain counter the scan advances; the domain imports no job machinery
    from alliance_shared.jobs import Progress


@dataclass(frozen=True)
class ContactDetails:
    name: str = ""
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class RegisterInstitution:
    uscc: str
    name: str
    ownership: Ownership
    party_org_status: PartyOrgStatus
    reporting_level: ReportingLevel
    sector: str = ""
    alliance_role: AllianceRole = AllianceRole.MEMBER
    effective_from: date | None = None  # default: today
    contact: ContactDetails | None = None


@dataclass(frozen=True)
class ReclassifyInstitution:
    institution_id: str
    ownership: Ownership | None = None
    party_org_status: PartyOrgStatus | None = None
    reporting_level: ReportingLevel | None = None
    alliance_role: AllianceRole | None = None
    sector: str | None = None
    name: str | None = None
    contact: ContactDetails | None = None
    effective_from: date | None = None  # default: today


@dataclass(frozen=True)
class IssueApiKey:
    institution_id: str
    label: str = ""


@dataclass(frozen=True)
class RevokeApiKey:
    institution_id: str
    key_id: str


@dataclass(frozen=True)
class OpenOrganization:
    name: str
    kind: OrganizationKind
    institution_ids: list[str]
    parent_id: str | None = None
    established_at: date | None = None  # default: today
    has_party_groups: bool = False
    secretary: ContactDetails | None = None


@dataclass(frozen=True)
class UpdateOrganization:
    organization_id: str
    name: str | None = None
    parent_id: str | None = None
    has_party_groups: bool | None = None
    secretary: ContactDetails | None = None


@dataclass(frozen=True)
class CloseOrganization:
    organization_id: str
    closed_at: date | None = None  # default: today


@dataclass(frozen=True)
class RegisterMember:
    organization_id: str
    name: str
    id_number: str
    status: MemberStatus
    phone: str | None = None
    joined_at: date | None = None  # default: today
    institution_id: str | None = None  # for a joint branch: which covered institution; default the owner
    pocket: bool = False
    cadre_roles: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChangeMember:
    member_id: str
    status: MemberStatus | None = None
    effective_at: date | None = None  # default: today
    pocket: bool | None = None
    phone: str | None = None
    cadre_roles: list[str] | None = None


@dataclass(frozen=True)
class MemberLeaves:
    member_id: str
    left_at: date | None = None
    reason: str = ""


@dataclass(frozen=True)
class RequestTransfer:
    member_id: str
    to_organization_id: str


@dataclass(frozen=True)
class AcceptTransfer:
    transfer_id: str


@dataclass(frozen=True)
class RefuseTransfer:
    transfer_id: str
    reason: str = ""


@dataclass(frozen=True)
class ScanOverdueTransfers:
    # where a job runs the scan, what it has done of how much (its status URL shows it)
    progress: Progress | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RevealMemberPii:
    member_id: str
    purpose: str
