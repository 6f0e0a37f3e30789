"""Sending: the dispatcher takes due deliveries, applies the limits that keep SMS humane (quiet
hours, a daily cap per phone), resolves and opens the recipient just in time, renders the template,
sends through the channel, and records every attempt — retrying transient failures with backoff,
then the fallback provider, then the dead letters. Also delivery receipts and manual requeues."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from alliance_shared.pii import PiiVault, mask_email, mask_phone
from prometheus_client import Counter

from .adapters.sms import SmsMessage, SmsProvider
from .adapters.store import Doc
from .domain.deliveries import FINAL, SendFailed, SendReceipt, after_failure, redact
from .domain.errors import UnknownDelivery
from .domain.templates import render_email, render_sms
from .domain.timing import local_day, next_local_morning, quiet_until
from .handlers import Notifier, status_event

log = logging.getLogger(__name__)
CLAIM_LEASE = timedelta(minutes=2)
# what the deployment's AllianceDeliveryFailures alert watches
DELIVERIES = Counter("alliance_deliveries_total", "Delivery attempts by outcome", ["channel", "status"])


class Mailer(Protocol):
    async def send(self, *, delivery_id: str, to: str, subject: str, text: str) -> SendReceipt: ...


@dataclass
class Channels:
    mailer: Mailer
    sms: Sequence[SmsProvider]
    vault: PiiVault


async def dispatch_due(n: Notifier, channels: Channels, limit: int = 100) -> int:
    """One pass of the dispatcher; returns how many deliveries it acted on."""
    acted = 0
    for doc in await n.store.deliveries.due(n.clock.now(), limit):
        claimed = await n.store.deliveries.claim(doc["_id"], n.clock.now(), CLAIM_LEASE)
        if claimed is None:
            continue
        try:
            await _dispatch_one(n, channels, claimed)
            acted += 1
        except Exception:
            log.exception("dispatching delivery %s failed; it stays due", doc["_id"])
            await n.store.deliveries.touch(doc["_id"], {"claimed_until": None})
    if acted:
        n.wake_outbox()
    return acted


async def _recipient(n: Notifier, channels: Channels, doc: Doc) -> tuple[str | None, str | None]:
    """(plaintext, masked) address of the delivery's audience on its channel, when known."""
    email = doc["channel"] == "email"
    if doc["audience"] == "secretariat":
        address = n.settings.secretariat_email if email else None
        return address, mask_email(address) if address else None
    contacts = n.store.contacts
    ref, inst = doc.get("contact_ref"), doc.get("institution_id")
    if doc["audience"] == "branch_secretary":
        holders = [await contacts.organization(ref)]
    elif doc["audience"] == "committee":
        holders = [await contacts.committee_of(inst), await contacts.institution(inst)]
    else:
        holders = [await contacts.institution(inst), await contacts.committee_of(inst)]
    for holder in holders:
        contact = (holder or {}).get("contact") or {}
        sealed = contact.get("email_sealed" if email else "phone_sealed")
        if sealed:
            plain = channels.vault.open(sealed)
            return plain, mask_email(plain) if email else mask_phone(plain)
    return None, None


async def _context(n: Notifier, doc: Doc) -> dict[str, Any]:
    reminder = await n.store.reminders.get(doc["reminder_id"]) or {}
    org = await n.store.contacts.organization(doc.get("organization_id"))
    inst = await n.store.contacts.institution(doc.get("institution_id"))
    committee = await n.store.contacts.committee_of(doc.get("institution_id"))
    return {
        **reminder.get("context", {}),
        "period": doc.get("period"),
        "step": doc.get("step"),
        "organization_name": (org or {}).get("name") or doc.get("organization_id"),
        "institution_name": (inst or {}).get("name") or doc.get("institution_id") or "",
        "committee_name": (committee or {}).get("name"),
    }


async def _defer(n: Notifier, doc: Doc, until: datetime, note: str) -> None:
    now = n.clock.now()
    await n.store.deliveries.change(
        doc,
        {"status": "deferred", "due_at": until, "updated_at": now},
        {"status": "deferred", "at": now, "attempt": doc["attempts"], "note": note, "until": until},
        [status_event(doc, "deferred", now)],
    )


async def _dispatch_one(n: Notifier, channels: Channels, doc: Doc) -> None:
    now = n.clock.now()
    rule = await n.store.catalog.rule(doc["rule"])
    case = await n.store.cases.get(doc["case_id"])
    if rule is None or (case is not None and case["status"] == "resolved"):
        await n.store.deliveries.change(
            doc,
            {"status": "cancelled", "due_at": None, "updated_at": now},
            {"status": "cancelled", "at": now, "note": "case closed"},
            [status_event(doc, "cancelled", now)],
        )
        return
    address, masked = await _recipient(n, channels, doc)
    if address is None:
        if now - doc["created_at"] > timedelta(days=n.settings.contact_wait_days):
            await _fail(n, {**doc, "recipient_masked": None}, "no contact on file for this channel", now)
        else:  # registry events may arrive after the reminder: wait for the contact, quietly
            await n.store.deliveries.touch(doc["_id"], {"claimed_until": None})
        return
    doc = {**doc, "recipient_masked": masked}
    if doc["channel"] == "sms":
        release = quiet_until(now, rule.quiet_hours)
        if release is not None:
            await _defer(n, doc, release, "quiet_hours")
            return
        day = local_day(now)
        if doc.get("quota_day") != day:
            if not await n.store.sms_quota.reserve(
                channels.vault.lookup_hash(address), day, rule.sms_per_phone_per_day
            ):
                await _defer(n, doc, next_local_morning(now, rule.quiet_hours.end_hour), "daily_sms_limit")
                return
            await n.store.deliveries.touch(doc["_id"], {"quota_day": day})
    template = await n.store.catalog.template(doc["template"])
    if template is None:
        await _fail(n, doc, f"template {doc['template']} missing", now)
        return
    context = await _context(n, doc)
    provider_name = "smtp"
    try:
        if doc["channel"] == "email":
            mail = render_email(template, context)
            receipt = await channels.mailer.send(
                delivery_id=doc["_id"], to=address, subject=mail.subject, text=mail.text
            )
        else:
            provider = channels.sms[min(int(doc.get("provider_index", 0)), len(channels.sms) - 1)]
            provider_name = provider.name
            sms = render_sms(template, context)
            receipt = await provider.send(
                SmsMessage(
                    delivery_id=doc["_id"],
                    phone=address,
                    text=sms.text,
                    template=template.name,
                    params=sms.params,
                    provider_codes=sms.provider_codes,
                )
            )
    except SendFailed as exc:
        await _attempt_failed(n, channels, doc, exc, now)
        return
    except Exception as exc:  # a template error or a bug in an adapter: no retry will fix it
        await _attempt_failed(
            n,
            channels,
            doc,
            SendFailed(f"{type(exc).__name__}: {exc}"[:300], transient=False, provider=provider_name),
            now,
        )
        return
    attempts = int(doc["attempts"]) + 1
    sent = {**doc, "attempts": attempts, "provider": receipt.provider}
    await n.store.deliveries.change(
        doc,
        {
            "status": "sent",
            "attempts": attempts,
            "provider": receipt.provider,
            "provider_message_id": receipt.message_id,
            "recipient_masked": masked,
            "sent_at": now,
            "updated_at": now,
            "due_at": None,
        },
        {"status": "sent", "at": now, "attempt": attempts, "provider": receipt.provider},
        [status_event(sent, "sent", now)],
    )
    DELIVERIES.labels(doc["channel"], "sent").inc()


async def _attempt_failed(n: Notifier, channels: Channels, doc: Doc, exc: SendFailed, now: datetime) -> None:
    providers = len(channels.sms) if doc["channel"] == "sms" else 1
    decision = after_failure(
        transient=exc.transient,
        provider_index=int(doc.get("provider_index", 0)),
        provider_attempts=int(doc.get("provider_attempts", 0)),
        providers=providers,
        now=now,
        max_attempts=n.settings.max_attempts_per_channel,
        backoff_s=n.settings.retry_backoff_s,
        backoff_max_s=n.settings.retry_backoff_max_s,
    )
    attempts = int(doc["attempts"]) + 1
    after = {**doc, "attempts": attempts, "provider": exc.provider}
    error = redact(str(exc))
    fields = {
        "status": decision.status,
        "attempts": attempts,
        "provider": exc.provider,
        "due_at": decision.due_at,
        "provider_index": decision.provider_index,
        "provider_attempts": decision.provider_attempts,
        "recipient_masked": doc.get("recipient_masked"),
        "last_error": error,
        "updated_at": now,
    }
    note = (
        "dead_letter"
        if decision.dead_letter
        else ("fallback_provider" if decision.provider_index != doc.get("provider_index", 0) else "retry")
    )
    await n.store.deliveries.change(
        doc,
        fields,
        {
            "status": "failed" if decision.dead_letter else "attempt_failed",
            "at": now,
            "attempt": attempts,
            "provider": exc.provider,
            "error": error,
            "transient": exc.transient,
            "note": note,
            "until": decision.due_at,
        },
        [status_event(after, decision.status, now, error=error)],
    )
    DELIVERIES.labels(doc["channel"], "failed" if decision.dead_letter else "attempt_failed").inc()
    if decision.dead_letter:
        await n.store.deliveries.dead_letter(after, error, now)


async def _fail(n: Notifier, doc: Doc, reason: str, now: datetime) -> None:
    await n.store.deliveries.change(
        doc,
        {
            "status": "failed",
            "due_at": None,
            "last_error": reason,
            "recipient_masked": doc.get("recipient_masked"),
            "updated_at": now,
        },
        {"status": "failed", "at": now, "attempt": doc["attempts"], "error": reason, "note": "dead_letter"},
        [status_event(doc, "failed", now, error=reason)],
    )
    DELIVERIES.labels(doc["channel"], "failed").inc()
    await n.store.deliveries.dead_letter(doc, reason, now)


async def accept_receipt(
    n: Notifier,
    *,
    delivery_id: str | None,
    provider_message_id: str | None,
    status: str,
    receipt_id: str | None,
    provider: str | None,
    error: str | None,
) -> dict[str, Any]:
    """A provider's delivery receipt: sent → delivered / failed, once per receipt."""
    doc = await n.store.deliveries.get(delivery_id) if delivery_id else None
    if doc is None and provider_message_id:
        doc = await n.store.deliveries.by_provider_message(provider_message_id)
    if doc is None:
        raise UnknownDelivery("未找到该投递 / unknown delivery", field="delivery_id")
    now = n.clock.now()
    key = f"{provider or doc.get('provider')}:{receipt_id or doc['_id'] + ':' + status}"
    if (
        not await n.store.receipts.first_time(key, {"delivery_id": doc["_id"], "status": status}, now)
        or doc["status"] in FINAL
    ):
        return {"delivery_id": doc["_id"], "status": doc["status"], "duplicate": True}
    history = {
        "status": status,
        "at": now,
        "attempt": doc["attempts"],
        "provider": provider,
        "error": error,
        "note": "receipt",
    }
    await n.store.deliveries.change(
        doc,
        {"status": status, "updated_at": now, "due_at": None},
        history,
        [status_event(doc, status, now, error=error)],
    )
    n.wake_outbox()
    return {"delivery_id": doc["_id"], "status": status, "duplicate": False}


async def requeue(n: Notifier, delivery_id: str) -> Doc:
    """Take a failed delivery out of the dead letters and try again from the primary provider."""
    doc = await n.store.deliveries.get(delivery_id)
    if doc is None:
        raise UnknownDelivery("未找到该投递 / unknown delivery", field="delivery_id")
    now = n.clock.now()
    changed = await n.store.deliveries.change(
        doc,
        {"status": "queued", "due_at": now, "provider_index": 0, "provider_attempts": 0, "updated_at": now},
        {"status": "queued", "at": now, "attempt": doc["attempts"], "note": "requeued"},
        [status_event(doc, "queued", now)],
    )
    await n.store.deliveries.mark_requeued(delivery_id)
    n.wake_outbox()
    return changed
