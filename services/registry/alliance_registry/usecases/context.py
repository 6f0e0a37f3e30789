"""What every use case of the registry works with: the store, the PII vault, the clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from alliance_shared.audit import audit_record
from alliance_shared.auth import Principal
from alliance_shared.clock import SHANGHAI, Clock
from alliance_shared.contracts.audit import RegistryActionAudited
from alliance_shared.contracts.registry import Contact
from alliance_shared.errors import Conflict
from alliance_shared.ids import uuid4
from alliance_shared.pii import PiiVault, mask_email, mask_phone

from ..adapters.store import RegistryStore
from ..domain.commands import ContactDetails
from ..domain.errors import ForeignTenant
from ..domain.identifiers import normalize_email, normalize_phone
from ..settings import RegistrySettings


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid4().hex[:20]}"


class ChangedConcurrently(Conflict):
    code = "changed_concurrently"

    def __init__(self) -> None:
        super().__init__("数据已被他人修改，请重试 / changed by someone else meanwhile; retry")


@dataclass
class RegistryUnit:
    store: RegistryStore
    vault: PiiVault
    clock: Clock
    settings: RegistrySettings

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        """The alliance's calendar day (Asia/Shanghai)."""
        return self.clock.now().astimezone(SHANGHAI).date()

    async def deny(self, who: Principal, action: str, target: str, field: str | None = None) -> ForeignTenant:
        """Record a refused attempt (BOLA attempts are audited) and return the error to raise."""
        await self.audit(who, action, action.split(".")[0], target, outcome="denied")
        return ForeignTenant(field)

    async def audit(
        self, who: Principal, action: str, object_type: str, object_id: str, *,
        institution_id: str | None = None, outcome: str = "done", **details: Any,
    ) -> None:
        """Audit an action (or a refused attempt) in the platform's one record shape."""
        record = audit_record(
            who, service="registry", action=action, object_type=object_type, object_id=object_id, at=self.now(),
            institution_id=institution_id, outcome=outcome, details=details, kind=RegistryActionAudited,
        )
        assert isinstance(record, RegistryActionAudited)
        await self.store.audit(record)

    def seal_contact(self, contact: ContactDetails | None, field: str) -> dict[str, Any] | None:
        """A contact as stored and as it travels in events: phone and email sealed and masked."""
        if contact is None:
            return None
        out: dict[str, Any] = {"name": contact.name.strip()}
        if contact.phone:
            phone = normalize_phone(contact.phone, field=f"{field}.phone")
            out |= {"phone_sealed": self.vault.seal(phone), "phone_masked": mask_phone(phone)}
        if contact.email:
            email = normalize_email(contact.email, field=f"{field}.email")
            out |= {"email_sealed": self.vault.seal(email), "email_masked": mask_email(email)}
        return out


def contact_of(stored: Mapping[str, Any] | None) -> Contact | None:
    return Contact(**stored) if stored else None
