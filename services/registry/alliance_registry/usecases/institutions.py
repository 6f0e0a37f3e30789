"""Institutions and their machine credentials: register, reclassify (effective-dated), keys."""

from __future__ import annotations

from typing import Any

from alliance_shared import auth
from alliance_shared.auth import Principal
from alliance_shared.contracts import registry as registry_events
from alliance_shared.errors import Forbidden

from ..adapters.store import API_KEYS, INSTITUTIONS, DuplicateKey
from ..domain import access, commands
from ..domain.classification import Classification, ClassificationHistory, Period
from ..domain.errors import (
    AlreadyRegistered,
    TooManyActiveKeys,
    UnknownApiKey,
    UnknownInstitution,
)
from ..domain.identifiers import normalize_uscc
from .context import ChangedConcurrently, RegistryUnit, contact_of, new_id

Doc = dict[str, Any]


# -- institutions ------------------------------------------------------------------------------
async def register_institution(reg: RegistryUnit, cmd: commands.RegisterInstitution, who: Principal) -> Doc:
    if not access.may_register_institution(who):
        raise await reg.deny(who, "institution.register", "institutions")
    doc, event = new_institution(reg, cmd)
    try:
        stored = await reg.store.insert(INSTITUTIONS, doc, [event], reporting_level=doc["reporting_level"])
    except DuplicateKey:
        raise AlreadyRegistered("统一社会信用代码已登记 / USCC already registered", field="uscc") from None
    return stored


def new_institution(
    reg: RegistryUnit, cmd: commands.RegisterInstitution
) -> tuple[Doc, registry_events.InstitutionRegistered]:
    """The institution's document and the event announcing it: what the API and the import (a
    chunk of institutions in one command) share."""
    uscc = normalize_uscc(cmd.uscc)
    cls = Classification(
        cmd.ownership, cmd.party_org_status, cmd.reporting_level, cmd.alliance_role, cmd.sector.strip()
    )
    effective = cmd.effective_from or reg.today()
    history = ClassificationHistory([Period(effective, cls)])
    contact = reg.seal_contact(cmd.contact, "contact")
    iid = new_id("ins")
    event = registry_events.InstitutionRegistered(
        institution_id=iid,
        uscc=uscc,
        name=cmd.name.strip(),
        classification=registry_events.InstitutionClassification(**cls.to_dict()),
        effective_from=effective,
        contact=contact_of(contact),
    )
    doc = {
        "_id": iid,
        "uscc": uscc,
        "name": cmd.name.strip(),
        "classifications": history.to_list(),
        **cls.to_dict(),
        "contact": contact,
        "registered_at": reg.now(),
    }
    return doc, event


async def load_institution(reg: RegistryUnit, iid: str, field: str = "institution_id") -> Doc:
    doc = await reg.store.get(INSTITUTIONS, iid)
    if doc is None:
        raise UnknownInstitution(field)
    return doc


async def reclassify_institution(reg: RegistryUnit, cmd: commands.ReclassifyInstitution, who: Principal) -> Doc:
    doc = await load_institution(reg, cmd.institution_id)
    if not access.may_manage_institution(who, doc["_id"]):
        raise await reg.deny(who, "institution.reclassify", doc["_id"])
    if cmd.alliance_role is not None and not who.is_secretariat:
        raise Forbidden(
            "只有秘书处可以调整联盟角色 / only the secretariat sets the alliance role", field="alliance_role"
        )
    history = ClassificationHistory.from_list(doc["classifications"])
    previous = history.current.classification
    new = previous.changed(
        ownership=cmd.ownership,
        party_org_status=cmd.party_org_status,
        reporting_level=cmd.reporting_level,
        alliance_role=cmd.alliance_role,
        sector=cmd.sector.strip() if cmd.sector is not None else None,
    )
    contact = reg.seal_contact(cmd.contact, "contact") if cmd.contact is not None else doc.get("contact")
    name = cmd.name.strip() if cmd.name else doc["name"]
    if new == previous and cmd.contact is None and name == doc["name"]:
        return doc  # nothing changes, nothing to announce
    effective = cmd.effective_from or reg.today()
    if new != previous:
        history = history.reclassify(new, effective)
    event = registry_events.InstitutionReclassified(
        institution_id=doc["_id"],
        classification=registry_events.InstitutionClassification(**new.to_dict()),
        previous=registry_events.InstitutionClassification(**previous.to_dict()),
        effective_from=effective,
        name=name,
        contact=contact_of(contact),
    )
    stored = await reg.store.update(
        INSTITUTIONS,
        {"_id": doc["_id"], "version": doc["version"]},
        {"$set": {"classifications": history.to_list(), **new.to_dict(), "name": name, "contact": contact}},
        [event],
        reporting_level=new.reporting_level,
    )
    if stored is None:
        raise ChangedConcurrently()
    before, after = previous.to_dict(), new.to_dict()
    changed = [k for k in after if after[k] != before.get(k)]
    changed += [k for k, differs in (("name", name != doc["name"]), ("contact", cmd.contact is not None)) if differs]
    await reg.audit(who, "institution.reclassified", "institution", doc["_id"], institution_id=doc["_id"],
                    fields=changed, effective_from=effective)
    return stored


# -- machine credentials -------------------------------------------------------------------------
async def issue_api_key(reg: RegistryUnit, cmd: commands.IssueApiKey, who: Principal) -> tuple[Doc, str]:
    await load_institution(reg, cmd.institution_id)
    if not access.may_manage_institution(who, cmd.institution_id):
        raise await reg.deny(who, "api_key.issue", cmd.institution_id)
    active = await reg.store.count(API_KEYS, {"institution_id": cmd.institution_id, "revoked_at": None})
    if active >= reg.settings.max_active_api_keys:
        raise TooManyActiveKeys(
            f"有效密钥已达上限 {reg.settings.max_active_api_keys}，请先吊销旧密钥 / "
            "too many active keys; revoke one first",
            field="institution_id",
        )
    key_id, api_key = auth.generate_api_key()
    prefix = f"{auth.API_KEY_PREFIX}{key_id}"
    now = reg.now()
    event = registry_events.ApiKeyIssued(
        institution_id=cmd.institution_id,
        key_id=key_id,
        key_hash=auth.hash_api_key(api_key),
        sealed_key=reg.vault.seal(api_key),
        prefix=prefix,
        issued_at=now,
    )
    doc = {
        "_id": key_id,
        "institution_id": cmd.institution_id,
        "key_hash": event.key_hash,
        "prefix": prefix,
        "label": cmd.label,
        "issued_at": now,
        "issued_by": who.subject,
        "revoked_at": None,
    }
    stored = await reg.store.insert(API_KEYS, doc, [event])
    await reg.audit(who, "api_key.issued", "api_key", key_id, institution_id=cmd.institution_id,
                    label=cmd.label, prefix=prefix)
    return stored, api_key


async def revoke_api_key(reg: RegistryUnit, cmd: commands.RevokeApiKey, who: Principal) -> Doc:
    await load_institution(reg, cmd.institution_id)
    if not access.may_manage_institution(who, cmd.institution_id):
        raise await reg.deny(who, "api_key.revoke", cmd.institution_id)
    now = reg.now()
    event = registry_events.ApiKeyRevoked(institution_id=cmd.institution_id, key_id=cmd.key_id, revoked_at=now)
    stored = await reg.store.update(
        API_KEYS,
        {"_id": cmd.key_id, "institution_id": cmd.institution_id, "revoked_at": None},
        {"$set": {"revoked_at": now, "revoked_by": who.subject}},
        [event],
    )
    if stored is None:
        existing = await reg.store.find_one(
            API_KEYS, {"_id": cmd.key_id, "institution_id": cmd.institution_id}
        )
        if existing is None:
            raise UnknownApiKey()
        return existing  # already revoked: revoking again changes nothing
    await reg.audit(who, "api_key.revoked", "api_key", cmd.key_id, institution_id=cmd.institution_id)
    return stored


async def resolve_api_key(reg: RegistryUnit, api_key: str) -> Principal | None:
    """The machine principal of a valid, unrevoked key (the `X-Api-Key` resolver)."""
    key_id = auth.key_id_of(api_key)
    if key_id is None:
        return None
    doc = await reg.store.get(API_KEYS, key_id)
    if doc is None or doc.get("revoked_at") is not None or not auth.api_key_matches(api_key, doc["key_hash"]):
        return None
    return Principal(
        subject=f"api-key:{key_id}", role=None, institution_id=doc["institution_id"], key_id=key_id
    )
