"""Sending: the dispatcher takes due deliveries, applies the limits that keep SMS humane (quiet
hours, a daily cap per phone), resolves and opens the recipient just in time, renders the template,
sends through the channel, and records every attempt — retrying transient failures with backoff,
then the fallback provider, then the dead letters. Also delivery receipts and manual requeues."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from alliance_shared.mongo import VersionConflict, is_transient
from alliance_shared.pii import PiiVault, mask_email, mask_phone
from prometheus_client import Counter

from ..adapters.sms import SmsMessage, SmsProvider
from ..adapters.store import Doc
from ..domain.deliveries import FINAL, PENDING, UNATTEMPTED, SendFailed, SendReceipt, after_failure, redact
from ..domain.delivery_reasons import code_of, explain, reason_zh
from ..domain.errors import UnknownDelivery
from ..domain.receipts import ProviderReceipt
from ..domain.rules import Rule
from ..domain.templates import render_email, render_sms, sms_segments
from ..domain.timing import local_day, next_local_morning, quiet_until
from ..handlers import NotificationUnit, status_event

log = logging.getLogger(__name__)
CLAIM_LEASE = timedelta(minutes=2)
# how long a dispatcher keeps trying to record a send the channel accepted while the store is away
RECORD_PATIENCE = timedelta(seconds=30)
# "sending" for longer than this: its dispatcher stopped (a send takes at most the channel's
# timeout, 15 s by default, then RECORD_PATIENCE to record it)
SEND_LEASE = CLAIM_LEASE
OUTCOME_UNKNOWN = "outcome_unknown"
# what the deployment's AllianceDeliveryFailures alert watches
DELIVERIES = Counter("alliance_deliveries_total", "Delivery attempts by outcome", ["channel", "status"])


class Mailer(Protocol):
    async def send(self, *, delivery_id: str, to: str, subject: str, text: str) -> SendReceipt: ...


@dataclass
class Channels:
    mailer: Mailer
    sms: Sequence[SmsProvider]
    vault: PiiVault


async def dispatch_until_idle(n: NotificationUnit, channels: Channels) -> int:
    """Passes one after another while each acts on a whole page (`dispatch_page`), so that a
    quarter's reminders go out at the channels' pace; the loop waits its interval only once a pass
    finds less. A page per interval held the city's 2,891 lagging-branch emails to ~8 a second (a
    page of 100 took ~7 s, then 5 s of waiting): 343 s of `bench/city.py`'s 1,625."""
    total = 0
    while True:
        acted = await dispatch_due(n, channels, n.settings.dispatch_page)
        total += acted
        if acted < n.settings.dispatch_page:
            return total


async def dispatch_due(n: NotificationUnit, channels: Channels, limit: int = 100) -> int:
    """One pass of the dispatcher, up to `dispatch_concurrency` deliveries at once (as concurrent
    replicas would: each is claimed first, the per-phone cap is reserved atomically, and a budget
    can be overrun by the SMS in flight, never more); returns how many deliveries it acted on."""
    acted = await expire_unconfirmed(n, limit)
    gate = asyncio.Semaphore(n.settings.dispatch_concurrency)

    async def one(doc: Doc) -> bool:
        async with gate:
            claimed = await n.store.deliveries.claim(doc["_id"], n.clock.now(), CLAIM_LEASE)
            if claimed is None:  # another replica has it
                return False
            try:
                await _dispatch_one(n, channels, claimed)
                return True
            except Exception:
                log.exception("dispatching delivery %s failed; it stays due", doc["_id"])
                await n.store.deliveries.touch(doc["_id"], {"claimed_until": None})
                return False

    acted += sum(await asyncio.gather(*(one(doc) for doc in await n.store.deliveries.due(n.clock.now(), limit))))
    if acted:
        n.wake_outbox()
    return acted


async def _recipient(n: NotificationUnit, channels: Channels, doc: Doc) -> tuple[str | None, str | None]:
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


async def _context(n: NotificationUnit, doc: Doc) -> dict[str, Any]:
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


async def _defer(n: NotificationUnit, doc: Doc, until: datetime, note: str) -> None:
    now = n.clock.now()
    await n.store.deliveries.change(
        doc,
        {"status": "deferred", "due_at": until, "updated_at": now},
        {"status": "deferred", "at": now, "attempt": doc["attempts"], "note": note, "until": until},
        [status_event(doc, "deferred", now)],
    )


async def _dispatch_one(n: NotificationUnit, channels: Channels, doc: Doc) -> None:
    """One due delivery: cancelled with its case, held for a contact, quiet hours or the day's SMS
    cap, else rendered and sent, at most once."""
    now = n.clock.now()
    rule = await n.store.catalog.rule(doc["rule"])
    case = await n.store.cases.get(doc["case_id"])
    if rule is None or (case is not None and case["status"] == "resolved"):
        await _cancel(n, doc, now)
        return
    address, masked = await _recipient(n, channels, doc)
    if address is None:
        await _without_contact(n, channels, doc, now)
        return
    doc = {**doc, "recipient_masked": masked}
    if doc["channel"] == "sms" and await _sms_held(n, channels, rule, doc, address, now):
        return
    await _render_and_send(n, channels, rule, doc, address, now)


async def _cancel(n: NotificationUnit, doc: Doc, now: datetime) -> None:
    await n.store.deliveries.change(
        doc,
        {"status": "cancelled", "due_at": None, "updated_at": now},
        {"status": "cancelled", "at": now, "note": "case closed"},
        [status_event(doc, "cancelled", now)],
    )


async def _without_contact(n: NotificationUnit, channels: Channels, doc: Doc, now: datetime) -> None:
    """No contact on file for the channel: it fails after `contact_wait_days`; until then it waits,
    quietly, behind the others (registry events may arrive after the reminder)."""
    if now - doc["created_at"] > timedelta(days=n.settings.contact_wait_days):
        await _fail(n, {**doc, "recipient_masked": None}, "no contact on file for this channel", now, "no_contact")
        return
    recheck = now + timedelta(seconds=n.settings.contact_recheck_s)
    await n.store.deliveries.touch(doc["_id"], {"claimed_until": None, "due_at": recheck, "waiting_contact": True})
    if (await _recipient(n, channels, doc))[0] is not None:  # it arrived meanwhile: due now
        await n.store.deliveries.touch(doc["_id"], {"due_at": now, "waiting_contact": False})


async def _sms_held(n: NotificationUnit, channels: Channels, rule: Rule, doc: Doc, address: str, now: datetime) -> bool:
    """Whether an SMS waits: through quiet hours, or until tomorrow morning once the phone has had
    the day's SMS (the day's place is reserved once per delivery)."""
    release = quiet_until(now, rule.quiet_hours)
    if release is not None:
        await _defer(n, doc, release, "quiet_hours")
        return True
    day = local_day(now)
    if doc.get("quota_day") != day:
        if not await n.store.sms_quota.reserve(channels.vault.lookup_hash(address), day, rule.sms_per_phone_per_day):
            await _defer(n, doc, next_local_morning(now, rule.quiet_hours.end_hour), "daily_sms_limit")
            return True
        await n.store.deliveries.touch(doc["_id"], {"quota_day": day})
    return False


async def _render_and_send(
    n: NotificationUnit, channels: Channels, rule: Rule, doc: Doc, address: str, now: datetime
) -> None:
    template = await n.store.catalog.template(doc["template"])
    if template is None:
        await _fail(n, doc, f"template {doc['template']} missing", now, "template_missing")
        return
    context = await _context(n, doc)
    outgoing: _Outgoing | None
    try:
        outgoing = await _render(n, channels, rule, template, context, doc, address)
    except Exception as exc:  # a template error: no retry will fix it (the store's: the next pass)
        if is_transient(exc):
            raise
        provider = "smtp" if doc["channel"] == "email" else _provider(channels, doc).name
        await _attempt_failed(n, channels, doc, _unexpected(exc, provider), now)
        return
    if outgoing is None:
        await _budget_fallback(n, doc, now)
        return
    # at most once: the send is claimed in the store before it happens; a dispatcher that stops
    # between sending and recording leaves it "sending", which is never sent again by itself
    doc = await _mark_sending(n, doc, outgoing.provider, now)
    try:
        receipt = await outgoing.send()
    except SendFailed as exc:
        await _attempt_failed(n, channels, doc, exc, now)
        return
    except Exception as exc:  # a bug in an adapter: no retry will fix it
        await _attempt_failed(n, channels, doc, _unexpected(exc, outgoing.provider), now)
        return
    await _record_sent(n, doc, receipt, now)
    DELIVERIES.labels(doc["channel"], "sent").inc()
    if outgoing.segments and doc.get("institution_id"):
        await n.store.sms_budgets.record(
            doc["institution_id"], local_day(now)[:7], outgoing.segments, outgoing.segments * _price_milli(n)
        )


@dataclass
class _Outgoing:
    """A rendered message, ready to go through its channel."""

    provider: str
    segments: int  # SMS parts (0 for an email)
    send: Callable[[], Awaitable[SendReceipt]]


def _provider(channels: Channels, doc: Doc) -> SmsProvider:
    return channels.sms[min(int(doc.get("provider_index", 0)), len(channels.sms) - 1)]


def _unexpected(exc: Exception, provider: str) -> SendFailed:
    return SendFailed(
        f"{type(exc).__name__}: {exc}"[:300],
        transient=False,
        provider=provider,
        code="template_error" if type(exc).__module__.startswith("jinja2") else None,
    )


async def _render(
    n: NotificationUnit, channels: Channels, rule: Any, template: Any, context: dict[str, Any], doc: Doc, address: str
) -> _Outgoing | None:
    """The message rendered for its channel; None when an SMS would pass the institution's budget."""
    if doc["channel"] == "email":
        mail = render_email(template, context)
        text = mail.text
        if doc.get("fallback_note") == BUDGET or await _sms_withheld_by_budget(n, rule, doc):
            text = f"{SMS_BUDGET_NOTE}\n\n{text}"
        return _Outgoing(
            "smtp",
            0,
            lambda: channels.mailer.send(delivery_id=doc["_id"], to=address, subject=mail.subject, text=text),
        )
    provider = _provider(channels, doc)
    sms = render_sms(template, context)
    segments = sms_segments(sms.text)
    if await _over_budget(n, doc.get("institution_id"), segments):
        return None
    message = SmsMessage(
        delivery_id=doc["_id"],
        phone=address,
        text=sms.text,
        template=template.name,
        params=sms.params,
        provider_codes=sms.provider_codes,
    )
    return _Outgoing(provider.name, segments, lambda: provider.send(message))


async def _mark_sending(n: NotificationUnit, doc: Doc, provider: str, now: datetime) -> Doc:
    """The delivery, claimed in the store as being sent now (its version moves: a dispatcher that
    lost its lease meanwhile fails here, before sending). Neither history nor event: nothing
    happened yet; what the send came to is recorded next."""
    return await n.store.deliveries.change(
        doc,
        {
            "status": "sending",
            "sending_at": now,
            "provider": provider,
            "recipient_masked": doc["recipient_masked"],
            "updated_at": now,
        },
        None,
        [],
    )


async def _record_sent(n: NotificationUnit, doc: Doc, receipt: SendReceipt, now: datetime) -> None:
    """Record what the channel accepted. The store may be restarting: the write is retried for
    about RECORD_PATIENCE; an answer lost after the write landed shows as the delivery already
    sent. A dispatcher that gives up leaves the delivery "sending" (see `expire_unconfirmed`)."""
    attempts = int(doc["attempts"]) + 1
    fields = {
        "status": "sent",
        "attempts": attempts,
        "provider": receipt.provider,
        "provider_message_id": receipt.message_id,
        "sent_at": now,
        "updated_at": now,
        "due_at": None,
        "reason_zh": None,  # an earlier attempt's reason no longer says why it was not delivered
        "last_error_code": None,
    }
    history = {"status": "sent", "at": now, "attempt": attempts, "provider": receipt.provider}
    sent = {**doc, "attempts": attempts, "provider": receipt.provider}
    delay, deadline = 0.2, time.monotonic() + RECORD_PATIENCE.total_seconds()
    while True:
        try:
            await n.store.deliveries.change(doc, fields, history, [status_event(sent, "sent", now)])
            return
        except VersionConflict:
            fresh = await n.store.deliveries.get(doc["_id"])
            if fresh is None or fresh["status"] in ("sent", "delivered"):
                return  # the earlier try landed (its answer was lost), or a receipt came first
            if fresh.get("last_error_code") != OUTCOME_UNKNOWN:
                raise
            doc = fresh  # given up on as unknown while the store was away: now it is known
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() > deadline:
                raise
            log.warning("recording delivery %s as sent failed (%s); trying again", doc["_id"], type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def expire_unconfirmed(n: NotificationUnit, limit: int = 100) -> int:
    """Deliveries left "sending" for longer than a dispatcher takes (it stopped between sending
    and recording): sent or not, nobody knows. At most once: none is sent again by itself; each
    fails with `outcome_unknown`, is dead-lettered where the secretariat sees it (and may retry it
    after checking with the recipient), and a provider's receipt may still settle it."""
    now, expired = n.clock.now(), 0
    for doc in await n.store.deliveries.sending_before(now - SEND_LEASE, limit):
        try:
            await _fail(n, doc, "outcome unknown: interrupted between sending and recording", now, OUTCOME_UNKNOWN)
            expired += 1
        except VersionConflict:  # its dispatcher recorded it meanwhile
            continue
    return expired


# -- each institution's SMS budget per month ---------------------------------------------------------
BUDGET = "sms_budget_exceeded"
SMS_BUDGET_NOTE = "【说明】本机构本月短信预算已用完，本次提醒仅以邮件发送。"


def _price_milli(n: NotificationUnit) -> int:
    return round(n.settings.sms_price_cny * 1000)


async def _over_budget(n: NotificationUnit, institution_id: str | None, segments: int) -> bool:
    """Would `segments` more SMS parts take the institution past this month's budget? (No budget
    set: no limit.) Checked before sending and counted after the provider accepted, so concurrent
    dispatchers may overrun a budget by the SMS they have in flight, never more."""
    if not institution_id:
        return False
    budget = await n.store.sms_budgets.budget(institution_id)
    if budget is None or budget.get("monthly_budget_milli") is None:
        return False
    spent = await n.store.sms_budgets.spent(institution_id, local_day(n.clock.now())[:7]) or {}
    return int(spent.get("cost_milli", 0)) + segments * _price_milli(n) > int(budget["monthly_budget_milli"])


async def _sms_withheld_by_budget(n: NotificationUnit, rule: Any, doc: Doc) -> bool:
    """An email whose step also sends SMS says so when the budget withheld that SMS (or will: it
    is still waiting and the institution's budget is spent)."""
    step = next((s for s in rule.steps if s.name == doc.get("step")), None)
    if step is None or "sms" not in step.channels:
        return False
    siblings = await n.store.deliveries.of_reminder(doc["reminder_id"])
    sms = next(
        (d for d in siblings if d["channel"] == "sms" and d.get("audience") == doc.get("audience")), None
    )
    if sms is None:
        return False
    if sms["status"] == "cancelled":
        return sms.get("last_error_code") == BUDGET
    return sms["status"] in PENDING and await _over_budget(n, doc.get("institution_id"), 1)


async def _budget_fallback(n: NotificationUnit, doc: Doc, now: datetime) -> None:
    """Over budget: the SMS is not sent (cancelled, saying why) and the branch gets the reminder by
    email with a note — the step's own email when it has one, else one queued now."""
    why = reason_zh(BUDGET)
    await n.store.deliveries.change(
        doc,
        {
            "status": "cancelled",
            "due_at": None,
            "last_error_code": BUDGET,
            "reason_zh": why,
            "recipient_masked": doc.get("recipient_masked"),
            "updated_at": now,
        },
        {
            "status": "cancelled",
            "at": now,
            "attempt": doc["attempts"],
            "code": BUDGET,
            "reason_zh": why,
            "note": BUDGET,
        },
        [status_event(doc, "cancelled", now, code=BUDGET, reason_zh=why)],
    )
    siblings = await n.store.deliveries.of_reminder(doc["reminder_id"])
    if any(d["channel"] == "email" and d.get("audience") == doc.get("audience") for d in siblings):
        return
    email = {
        **{
            k: v
            for k, v in doc.items()
            if k not in ("version", "outbox", "quota_day", "reason_zh", "last_error_code")
        },
        "_id": f"{doc['_id']}:email",
        "channel": "email",
        "status": "queued",
        **UNATTEMPTED,
        "fallback_note": BUDGET,
        "created_at": now,
        "updated_at": now,
        "due_at": now,
        "claimed_until": None,
        "history": [{"status": "queued", "at": now, "attempt": 0, "note": BUDGET}],
    }
    await n.store.deliveries.create(email, [status_event(email, "queued", now)])


async def _attempt_failed(n: NotificationUnit, channels: Channels, doc: Doc, exc: SendFailed, now: datetime) -> None:
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
    code = exc.code or code_of(error)
    why = reason_zh(code) if code else None
    fields = {
        "status": decision.status,
        "attempts": attempts,
        "provider": exc.provider,
        "due_at": decision.due_at,
        "provider_index": decision.provider_index,
        "provider_attempts": decision.provider_attempts,
        "recipient_masked": doc.get("recipient_masked"),
        "last_error": error,
        "last_error_code": code,
        "reason_zh": why,
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
            "code": code,
            "reason_zh": why,
            "transient": exc.transient,
            "note": note,
            "until": decision.due_at,
        },
        [status_event(after, decision.status, now, error=error, code=code, reason_zh=why)],
    )
    DELIVERIES.labels(doc["channel"], "failed" if decision.dead_letter else "attempt_failed").inc()
    if decision.dead_letter:
        await n.store.deliveries.dead_letter(after, error, now)


async def _fail(n: NotificationUnit, doc: Doc, reason: str, now: datetime, code: str) -> None:
    why = reason_zh(code)
    await n.store.deliveries.change(
        doc,
        {
            "status": "failed",
            "due_at": None,
            "last_error": reason,
            "last_error_code": code,
            "reason_zh": why,
            "recipient_masked": doc.get("recipient_masked"),
            "updated_at": now,
        },
        {
            "status": "failed",
            "at": now,
            "attempt": doc["attempts"],
            "error": reason,
            "code": code,
            "reason_zh": why,
            "note": "dead_letter",
        },
        [status_event(doc, "failed", now, error=reason, code=code, reason_zh=why)],
    )
    DELIVERIES.labels(doc["channel"], "failed").inc()
    await n.store.deliveries.dead_letter(doc, reason, now)


async def accept_receipt(
    n: NotificationUnit,
    *,
    delivery_id: str | None,
    provider_message_id: str | None,
    status: str,
    receipt_id: str | None,
    provider: str | None,
    error: str | None,
    code: str | None = None,
) -> dict[str, Any]:
    """A receipt in the platform's own shape: sent → delivered / failed, once per receipt."""
    doc = await n.store.deliveries.get(delivery_id) if delivery_id else None
    if doc is None and provider_message_id:
        doc = await n.store.deliveries.by_provider_message(provider_message_id)
    if doc is None:
        raise UnknownDelivery("未找到该投递 / unknown delivery", field="delivery_id")
    key = f"{provider or doc.get('provider')}:{receipt_id or doc['_id'] + ':' + status}"
    applied = await _apply_receipt(
        n, doc, key=key, status=status, provider=provider, code=code, error=error, reported_at=None
    )
    if applied is None:
        return {"delivery_id": doc["_id"], "status": doc["status"], "duplicate": True}
    return {"delivery_id": doc["_id"], "status": status, "duplicate": False}


async def accept_provider_receipts(n: NotificationUnit, receipts: Sequence[ProviderReceipt]) -> dict[str, Any]:
    """A provider's pushed receipts (Alibaba Cloud SmsReport, Tencent Cloud status callback), each
    matched to its delivery by the provider's serial (biz_id / sid, stored when it was sent), else by
    the out_id we sent. Counts what changed; receipts of messages we never sent are named by id."""
    by_message: dict[tuple[str, str], Doc] = {}
    for provider in sorted({r.provider for r in receipts}):
        ids = [r.message_id for r in receipts if r.provider == provider]
        for found in await n.store.deliveries.by_provider_messages(provider, ids):
            by_message[(provider, found["provider_message_id"])] = found
    missing = [
        r.delivery_id for r in receipts if (r.provider, r.message_id) not in by_message and r.delivery_id
    ]
    by_id = {d["_id"]: d for d in await n.store.deliveries.many(missing)} if missing else {}
    delivered = failed = duplicates = 0
    unmatched: list[str] = []
    for r in receipts:
        doc = by_message.get((r.provider, r.message_id)) or by_id.get(r.delivery_id or "")
        if doc is None:
            unmatched.append(r.message_id)
            continue
        status = "delivered" if r.delivered else "failed"
        code = None if r.delivered else (r.code or "UNKNOWN")
        applied = await _apply_receipt(
            n,
            doc,
            key=r.key,
            status=status,
            provider=r.provider,
            code=code,
            error=None if r.delivered else redact(f"{r.code or ''} {r.description or ''}".strip())[:300],
            reported_at=r.reported_at,
        )
        if applied is None:
            duplicates += 1
            continue
        by_message[(r.provider, r.message_id)] = applied  # a second receipt in the batch sees the change
        delivered, failed = delivered + r.delivered, failed + (not r.delivered)
    if unmatched:
        log.info("%d %s receipt(s) matched no delivery", len(unmatched), receipts[0].provider)
    return {"delivered": delivered, "failed": failed, "duplicates": duplicates, "unmatched": unmatched}


async def _apply_receipt(
    n: NotificationUnit,
    doc: Doc,
    *,
    key: str,
    status: str,
    provider: str | None,
    code: str | None,
    error: str | None,
    reported_at: datetime | None,
) -> Doc | None:
    """Move a sent delivery to `status` once per receipt `key`; None when nothing changed (the
    receipt was seen before, or the delivery's outcome is already final)."""
    now = n.clock.now()
    if _settled(doc) or not await n.store.receipts.first_time(
        key, {"delivery_id": doc["_id"], "status": status, "code": code}, now
    ):
        return None
    why = explain(code, error) if status == "failed" else None
    history = {
        "status": status,
        "at": now,
        "attempt": doc["attempts"],
        "provider": provider,
        "error": error,
        "code": code,
        "reason_zh": why,
        "reported_at": reported_at,
        "note": "receipt",
    }
    fields: dict[str, Any] = {"status": status, "updated_at": now, "due_at": None}
    if status == "failed":
        fields.update({"last_error": error, "last_error_code": code, "reason_zh": why})
    for _ in range(3):  # the dispatcher may be touching it (a lease, a quota day): read again
        try:
            changed = await n.store.deliveries.change(
                doc, fields, history, [status_event(doc, status, now, error=error, code=code, reason_zh=why)]
            )
            n.wake_outbox()
            return changed
        except VersionConflict:
            fresh = await n.store.deliveries.get(doc["_id"])
            if fresh is None or _settled(fresh):
                return None
            doc = fresh
    await n.store.receipts.forget(key)  # so the provider's next push of it applies
    raise VersionConflict(f"delivery {doc['_id']} kept changing while a receipt was applied")


def _settled(doc: Doc) -> bool:
    """Final, so a receipt changes nothing — except a failure that only says nobody knows whether
    it was sent: the provider's receipt is the answer."""
    return doc["status"] in FINAL and doc.get("last_error_code") != OUTCOME_UNKNOWN


async def requeue(n: NotificationUnit, delivery_id: str) -> Doc:
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
