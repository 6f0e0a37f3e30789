"""One audit record shape for every service (`contracts.audit.ActionAudited`): build it from the
caller and the action, store it as a document, and announce it. The record's id starts with its
instant, so the trail sorts and pages by `_id` alone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from .auth import Principal
from .contracts.audit import ActionAudited, Detail, Service
from .ids import uuid4


def audit_id(at: datetime) -> str:
    """`20261201T170824123456Z-<10 hex>`: ids sort as their instants do (UTC, microseconds)."""
    return f"{id_floor(at)}-{uuid4().hex[:10]}"


def id_floor(at: datetime) -> str:
    """The smallest id of a record at `at` or later: a time bound as an `_id` bound."""
    when = at if at.tzinfo else at.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _detail(value: Any) -> Detail:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    return str(value)


def audit_record(
    who: Principal,
    *,
    service: Service,
    action: str,
    object_type: str,
    object_id: str,
    at: datetime,
    institution_id: str | None = None,
    period: str | None = None,
    outcome: str = "done",
    details: Mapping[str, Any] | None = None,
    kind: type[ActionAudited] = ActionAudited,
) -> ActionAudited:
    """The record of `who` doing `action` to an object, at `at`, from the address they called from.
    `details` holds what changed (field names, versions, reasons): never personal data. `kind`:
    the service's event type when the record is announced (`RegistryActionAudited`, …)."""
    return kind(
        audit_id=audit_id(at),
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
        service=service,
        action=action,
        outcome=outcome,
        actor=who.subject,
        actor_role=who.role.value if who.role else None,
        actor_key_id=who.key_id,
        actor_institution_id=who.institution_id,
        ip=who.ip,
        object_type=object_type,
        object_id=object_id,
        institution_id=institution_id,
        period=period,
        details={k: _detail(v) for k, v in (details or {}).items()},
    )


def audit_document(record: ActionAudited) -> dict[str, Any]:
    """The stored form: the record's fields at the top level (each filter has its index), `_id` its id."""
    doc = record.model_dump(exclude={"audit_id"})
    return {"_id": record.audit_id, **doc}
