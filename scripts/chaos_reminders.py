"""The fault campaign's reminder burst (scripts/chaos.py): per trial, branches that never met are
opened (each with a secretary of its own), evaluation's lagging scan is run as the kill approaches,
and the target is killed once the first of their reminders is in the mailbox — so a killed
notification dies while it is sending. Once settled, each branch's secretary must have been
reminded once by email and once by SMS: an email twice with the same subject, or two SMS of the rule
for one branch, is a reminder sent more than once across the restart; one never sent is missing.

Notification sends at most once: a delivery its dispatcher was sending when it died stays
"sending" until the send lease (2 min) passes, then fails as `outcome_unknown` into the dead
letters, where the secretariat sees it and may retry it. Such a reminder is in doubt, not missing:
the dispatcher sends one delivery at a time, so a kill leaves at most one in doubt."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import httpx

RULE = "lagging_branch"
SENT = {"sent", "delivered"}
OUTCOME_UNKNOWN = "outcome_unknown"


@dataclass
class ReminderBurst:
    trial: int
    branches: dict[str, str] = field(default_factory=dict)  # organisation id -> its secretary's email
    reminded: int = 0  # branches whose secretary got the reminder
    duplicates: int = 0  # reminders beyond one per branch and channel
    missing: int = 0  # reminders (email or SMS) of a branch never sent by the deadline, nor in doubt
    in_doubt: int = 0  # reminders interrupted while being sent: "sending", or failed as outcome_unknown
    at_kill: int = 0  # branches reminded by email when the target was killed
    sms: int = 0  # SMS of the rule sent to the branches' secretaries


async def lift_quiet_hours(notification: httpx.AsyncClient) -> None:
    """SMS wait through quiet hours (21:00–08:00 Beijing): lift them so the burst's SMS go at once."""
    answer = await notification.get("/api/v1/rules")
    answer.raise_for_status()
    rule = next(r for r in answer.json()["items"] if r["name"] == RULE)
    changed = {k: v for k, v in rule.items() if k not in ("updated_at", "updated_by")}
    changed["quiet_hours"] = {**changed["quiet_hours"], "enabled": False}
    (await notification.put(f"/api/v1/rules/{RULE}", json=changed)).raise_for_status()


async def open_lagging_branches(registry: httpx.AsyncClient, institution_id: str, committee: str, trial: int,
                                count: int) -> ReminderBurst:
    """`count` branches under the committee that never met (opened 2019: lagging at once)."""
    burst = ReminderBurst(trial)
    stamp = time.time_ns() % 10**6
    for n in range(count):
        email = f"chaos-t{trial}-{stamp}-b{n}@alliance.example"
        answer = await registry.post("/api/v1/organizations", json={
            "name": f"第{trial}轮演练第{n + 1}支部", "kind": "branch", "institution_ids": [institution_id],
            "parent_id": committee, "established_at": "2019-07-01",
            "secretary": {"name": f"演练书记{n}", "phone": f"139{trial % 100:02d}{stamp % 100:02d}{n:04d}",
                          "email": email}})
        if answer.status_code != 201:
            raise RuntimeError(f"POST /api/v1/organizations: {answer.status_code} {answer.text[:300]}")
        burst.branches[str(answer.json()["id"])] = email
    return burst


async def scan(evaluation: httpx.AsyncClient) -> None:
    """Run evaluation's lagging scan now (answered at once, or accepted as a job)."""
    try:
        await evaluation.post("/api/v1/scans/lagging", timeout=60)
    except httpx.HTTPError:
        pass  # evaluation being killed: the next scan (or its schedule) finds the branches


def mails(mailbox: Path, recipients: set[str]) -> Counter[tuple[str, str]]:
    """(recipient, subject) → messages in the development mailbox, for these recipients."""
    out: Counter[tuple[str, str]] = Counter()
    for path in mailbox.glob("*.eml"):
        try:
            msg = message_from_bytes(path.read_bytes())
        except OSError:
            continue
        to = str(msg.get("To", ""))
        for recipient in recipients:
            if recipient in to:
                out[(recipient, str(make_header(decode_header(msg.get("Subject", "")))))] += 1
    return out


async def first_reminder(burst: ReminderBurst, mailbox: Path, timeout_s: float) -> bool:
    """Wait until one of the burst's reminders is in the mailbox (False after `timeout_s`);
    `burst.at_kill` says how many branches were reminded by then."""
    deadline = time.monotonic() + timeout_s
    recipients = set(burst.branches.values())
    while time.monotonic() < deadline:
        got = await asyncio.to_thread(mails, mailbox, recipients)
        if got:
            burst.at_kill = len({recipient for recipient, _ in got})
            return True
        await asyncio.sleep(0.1)
    return False


async def reminders_of(notification: httpx.AsyncClient, organization_id: str) -> list[dict[str, Any]]:
    """The branch's deliveries of the rule, both channels."""
    answer = await notification.get("/api/v1/deliveries", params={"organization_id": organization_id, "rule": RULE})
    if answer.status_code != 200:
        return []
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def sent(deliveries: list[dict[str, Any]], channel: str) -> int:
    return sum(1 for d in deliveries if d["channel"] == channel and d["status"] in SENT)


def in_doubt(deliveries: list[dict[str, Any]], channel: str) -> bool:
    """A delivery of `channel` interrupted between sending and recording (see the module's note)."""
    return any(d["channel"] == channel and (d["status"] == "sending" or (
        d["status"] == "failed" and any(h.get("code") == OUTCOME_UNKNOWN for h in d.get("history", []))))
        for d in deliveries)


async def settle(burst: ReminderBurst, mailbox: Path, evaluation: httpx.AsyncClient,
                 notification: httpx.AsyncClient, timeout_s: float) -> None:
    """Waits until every branch was reminded by email and SMS, or that reminder is in doubt
    (scanning again now and then: a branch evaluation had not heard of yet is found by the next
    scan), then counts. A branch missing either by `timeout_s` is missing."""
    deadline = time.monotonic() + timeout_s
    recipients = set(burst.branches.values())
    last_scan = time.monotonic()
    while True:
        got = await asyncio.to_thread(mails, mailbox, recipients)
        emailed = {recipient for recipient, _ in got}
        done = 0
        for organization_id, email in burst.branches.items():
            try:
                deliveries = await reminders_of(notification, organization_id)
            except httpx.HTTPError:
                break
            done += ((email in emailed or in_doubt(deliveries, "email"))
                     and (sent(deliveries, "sms") > 0 or in_doubt(deliveries, "sms")))
        if done == len(burst.branches) or time.monotonic() > deadline:
            break
        if time.monotonic() - last_scan > 10:
            await scan(evaluation)
            last_scan = time.monotonic()
        await asyncio.sleep(1.0)
    await asyncio.sleep(3.0)  # a second message would come right after the first: give it the time
    got = await asyncio.to_thread(mails, mailbox, recipients)
    emailed = {recipient for recipient, _ in got}
    burst.reminded = len(emailed)
    burst.duplicates = sum(n - 1 for n in got.values() if n > 1)
    for organization_id, email in burst.branches.items():
        try:
            deliveries = await reminders_of(notification, organization_id)
        except httpx.HTTPError:
            deliveries = []
        texts = sent(deliveries, "sms")
        burst.sms += texts
        burst.duplicates += max(0, texts - 1)
        for channel, reminded in (("email", email in emailed), ("sms", texts > 0)):
            if not reminded:
                if in_doubt(deliveries, channel):
                    burst.in_doubt += 1
                else:
                    burst.missing += 1
