"""Use cases behind the secretariat's API: editing rules, templates and SMS budgets as data (each
edit audited: who, from where, which fields, the version it made), previews, and the figures
(closed loop, weekly digest)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alliance_shared.audit import audit_record
from alliance_shared.auth import Principal
from alliance_shared.contracts.audit import NotificationActionAudited
from jinja2 import TemplateError
from pydantic import ValidationError

from ..domain import rules as rulebook
from ..domain.closed_loop import RULE_ZH, STEP_ZH, breakdown, closed_loop
from ..domain.errors import (
    BudgetInvalid,
    RuleInvalid,
    StaleEdit,
    TemplateInvalid,
    UnknownRule,
    UnknownTemplate,
)
from ..domain.rules import Rule
from ..domain.templates import PREVIEW_CONTEXT, MessageTemplate, check_template, render_email, render_sms
from ..domain.timing import local_day
from ..handlers import NotificationUnit


async def _audit(n: NotificationUnit, who: Principal, action: str, object_type: str, object_id: str, *,
                 institution_id: str | None = None, **details: Any) -> None:
    record = audit_record(
        who, service="notification", action=action, object_type=object_type, object_id=object_id,
        at=n.clock.now(), institution_id=institution_id, details=details, kind=NotificationActionAudited,
    )  # fmt: skip
    assert isinstance(record, NotificationActionAudited)
    await n.store.audit.record(record)
    n.wake_outbox()


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in {*before, *after} - {"version", "name"} if before.get(k) != after.get(k))


async def put_rule(n: NotificationUnit, name: str, body: dict[str, Any], who: Principal) -> Rule:
    """Replace a rule; `version` in the body must be the stored one (optimistic edit)."""
    current = await n.store.catalog.rule(name)
    if current is None:
        raise UnknownRule(f"未知规则 / unknown rule {name!r}", field="name")
    try:
        rule = Rule.model_validate({**body, "name": name, "version": current.version + 1})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RuleInvalid(
            f"规则无效 / invalid rule: {err['msg']}", field=".".join(str(p) for p in err["loc"]) or None
        ) from None
    for i, step in enumerate(rule.steps):
        if await n.store.catalog.template(step.template) is None:
            raise RuleInvalid(f"模板不存在 / no template {step.template!r}", field=f"steps.{i}.template")
    if body.get("version", current.version) != current.version:
        raise StaleEdit("规则已被他人修改，请刷新 / the rule changed meanwhile; reload", field="version")
    if not await n.store.catalog.put_rule(rule, current.version):
        raise StaleEdit("规则已被他人修改，请刷新 / the rule changed meanwhile; reload", field="version")
    await _audit(n, who, "rule.updated", "rule", name, version=rule.version,
                 fields=_changed(current.model_dump(mode="json"), rule.model_dump(mode="json")))
    return rule


async def put_template(n: NotificationUnit, name: str, body: dict[str, Any], who: Principal) -> MessageTemplate:
    """Create or replace a template after checking every Jinja2 source compiles."""
    current = await n.store.catalog.template(name)
    try:
        template = MessageTemplate.model_validate(
            {**body, "name": name, "version": (current.version + 1) if current else 1}
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise TemplateInvalid(
            f"模板无效 / invalid template: {err['msg']}", field=".".join(str(p) for p in err["loc"]) or None
        ) from None
    check_template(template)
    if current is not None and body.get("version", current.version) != current.version:
        raise StaleEdit("模板已被他人修改，请刷新 / the template changed meanwhile; reload", field="version")
    if not await n.store.catalog.put_template(template, current.version if current else None):
        raise StaleEdit("模板已被他人修改，请刷新 / the template changed meanwhile; reload", field="version")
    before = current.model_dump(mode="json") if current else {}
    await _audit(n, who, "template.updated" if current else "template.created", "template", name,
                 version=template.version, fields=_changed(before, template.model_dump(mode="json")))
    return template


async def preview_template(n: NotificationUnit, name: str, context: dict[str, Any]) -> dict[str, Any]:
    template = await n.store.catalog.template(name)
    if template is None:
        raise UnknownTemplate(f"未知模板 / unknown template {name!r}", field="name")
    ctx = {**PREVIEW_CONTEXT, **context}
    try:
        mail = render_email(template, ctx)
        sms = render_sms(template, ctx) if template.sms else None
    except TemplateError as exc:
        raise TemplateInvalid(f"模板渲染失败 / template failed to render: {exc}", field="context") from None
    return {
        "name": name,
        "email": {"subject": mail.subject, "text": mail.text},
        "sms": None
        if sms is None
        else {"text": sms.text, "params": sms.params, "provider_codes": sms.provider_codes},
    }


async def effectiveness(
    n: NotificationUnit, since: datetime | None, *, within_days: int = 14, institution_id: str | None = None
) -> dict[str, Any]:
    """The closed-loop figure, and its breakdown per channel, rule step and hour of sending."""
    docs = await n.store.reminders.for_effectiveness(rulebook.BRANCH_RULES, since, institution_id)
    sends = await n.store.deliveries.of_reminders([d["_id"] for d in docs])
    now = n.clock.now()
    return {**closed_loop(docs, now), "breakdown": breakdown(docs, sends, now, within_days)}


# -- each institution's SMS budget ---------------------------------------------------------------
def _cny(milli: int | None) -> float | None:
    return None if milli is None else round(milli / 1000, 3)


async def put_sms_budget(
    n: NotificationUnit, institution_id: str, body: dict[str, Any], who: Principal
) -> dict[str, Any]:
    """Set an institution's SMS budget per month (yuan; null: no limit), at the stored `version`."""
    amount = body.get("monthly_budget_cny")
    if amount is not None and (
        isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0
    ):
        raise BudgetInvalid(
            "预算须为不小于 0 的金额（元）或 null / a non-negative amount in yuan, or null",
            field="monthly_budget_cny",
        )
    if amount is not None and amount > 1_000_000:
        raise BudgetInvalid("预算过大 / at most 1,000,000 yuan a month", field="monthly_budget_cny")
    version = body.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise BudgetInvalid("version 须为整数 / version must be an integer", field="version")
    current = await n.store.sms_budgets.budget(institution_id)
    if version != (current or {}).get("version", 0):
        raise StaleEdit("预算已被他人修改，请刷新 / the budget changed meanwhile; reload", field="version")
    stored = await n.store.sms_budgets.put_budget(
        institution_id,
        {
            "monthly_budget_milli": None if amount is None else round(amount * 1000),
            "updated_by": who.subject,
            "updated_at": n.clock.now(),
        },
        version,
    )
    if stored is None:
        raise StaleEdit("预算已被他人修改，请刷新 / the budget changed meanwhile; reload", field="version")
    await _audit(n, who, "sms_budget.updated", "institution", institution_id, institution_id=institution_id,
                 version=stored.get("version", version + 1), monthly_budget_cny=amount)
    month = local_day(n.clock.now())[:7]
    item: dict[str, Any] = (await sms_spending(n, month, [institution_id]))["items"][0]
    return item


async def sms_spending(n: NotificationUnit, month: str, institution_ids: list[str] | None) -> dict[str, Any]:
    """Per institution: the month's SMS, their parts and cost, against its budget (yuan)."""
    spend = {d["institution_id"]: d for d in await n.store.sms_budgets.spending(month, institution_ids)}
    budgets = {d["_id"]: d for d in await n.store.sms_budgets.budgets(institution_ids)}
    names = {d["institution_id"]: d.get("name") for d in await n.store.contacts.institutions()}
    ids = institution_ids if institution_ids is not None else sorted({*spend, *budgets})
    items = []
    for inst in ids:
        used, budget = spend.get(inst, {}), budgets.get(inst, {})
        cost, limit = int(used.get("cost_milli", 0)), budget.get("monthly_budget_milli")
        items.append(
            {
                "institution_id": inst,
                "institution_name": names.get(inst),
                "month": month,
                "sms": int(used.get("sms", 0)),
                "segments": int(used.get("segments", 0)),
                "cost_cny": _cny(cost),
                "monthly_budget_cny": _cny(limit),
                "remaining_cny": None if limit is None else _cny(max(limit - cost, 0)),
                "over_budget": limit is not None and cost >= limit,
                "version": budget.get("version", 0),
            }
        )
    items.sort(key=lambda i: (-(i["cost_cny"] or 0), i["institution_id"]))
    return {"month": month, "price_cny_per_sms": n.settings.sms_price_cny, "items": items}


async def digest_figures(n: NotificationUnit) -> dict[str, Any]:
    now = n.clock.now()
    week_ago = now - timedelta(days=7)
    loop = await effectiveness(n, now - timedelta(days=90))
    return {
        "open_cases": await n.store.cases.count({"status": "open", "rule": {"$in": list(rulebook.BRANCH_RULES)}}),
        "secretariat_list": await n.store.cases.count({"status": "open", "step": "secretariat"}),
        "sent": await n.store.deliveries.count(
            {"status": {"$in": ["sent", "delivered"]}, "updated_at": {"$gte": week_ago}}
        ),
        "failed": await n.store.deliveries.count({"status": "failed", "updated_at": {"$gte": week_ago}}),
        "reported_within_14_days_rate": loop["rate"] if loop["rate"] is not None else "—",
    }


async def institution_digests(n: NotificationUnit) -> dict[str, dict[str, Any]]:
    """Each institution's own week for its Party committee: its branches' open reminder cases by
    name, its SMS this month against its budget, and its branches' closed-loop rate (90 days)."""
    now = n.clock.now()
    institutions = [d["institution_id"] for d in await n.store.contacts.institutions()]
    cases = await n.store.cases.open_of_rules(rulebook.BRANCH_RULES)
    names = await n.store.contacts.names([c["organization_id"] for c in cases])
    reminders = await n.store.reminders.for_effectiveness(rulebook.BRANCH_RULES, now - timedelta(days=90))
    month = local_day(now)[:7]
    spending = {i["institution_id"]: i for i in (await sms_spending(n, month, institutions))["items"]}
    out: dict[str, dict[str, Any]] = {}
    for inst in institutions:
        own = sorted(
            (c for c in cases if c.get("institution_id") == inst), key=lambda c: (c["opened_at"], c["_id"])
        )
        loop = closed_loop([r for r in reminders if r.get("institution_id") == inst], now)
        money = spending.get(inst, {})
        out[inst] = {
            "open_cases": len(own),
            "branches": [
                {
                    "name": names.get(c["organization_id"], c["organization_id"]),
                    "rule_zh": RULE_ZH.get(c["rule"], c["rule"]),
                    "step_zh": STEP_ZH.get(c.get("step") or "", c.get("step") or ""),
                    "days_open": (now - c["opened_at"]).days,
                }
                for c in own[:20]
            ],
            "more_branches": max(len(own) - 20, 0),
            "sms": money.get("sms", 0),
            "cost_cny": money.get("cost_cny", 0.0),
            "monthly_budget_cny": money.get("monthly_budget_cny"),
            "reported_within_14_days_rate": loop["rate"] if loop["rate"] is not None else "—",
        }
    return out
