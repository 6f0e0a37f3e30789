"""Use cases behind the secretariat's API: editing rules and templates as data, previews, and the
figures (closed loop, weekly digest)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jinja2 import TemplateError
from pydantic import ValidationError

from .domain import rules as R
from .domain.closed_loop import closed_loop
from .domain.errors import RuleInvalid, StaleEdit, TemplateInvalid, UnknownRule, UnknownTemplate
from .domain.rules import Rule
from .domain.templates import PREVIEW_CONTEXT, MessageTemplate, check_template, render_email, render_sms
from .handlers import Notifier


async def put_rule(n: Notifier, name: str, body: dict[str, Any]) -> Rule:
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
    return rule


async def put_template(n: Notifier, name: str, body: dict[str, Any]) -> MessageTemplate:
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
    return template


async def preview_template(n: Notifier, name: str, context: dict[str, Any]) -> dict[str, Any]:
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


async def effectiveness(n: Notifier, since: datetime | None) -> dict[str, Any]:
    docs = await n.store.reminders.for_effectiveness(R.BRANCH_RULES, since)
    return closed_loop(docs, n.clock.now())


async def digest_figures(n: Notifier) -> dict[str, Any]:
    now = n.clock.now()
    week_ago = now - timedelta(days=7)
    loop = await effectiveness(n, now - timedelta(days=90))
    return {
        "open_cases": await n.store.cases.count({"status": "open", "rule": {"$in": list(R.BRANCH_RULES)}}),
        "secretariat_list": await n.store.cases.count({"status": "open", "step": "secretariat"}),
        "sent": await n.store.deliveries.count(
            {"status": {"$in": ["sent", "delivered"]}, "updated_at": {"$gte": week_ago}}
        ),
        "failed": await n.store.deliveries.count({"status": "failed", "updated_at": {"$gte": week_ago}}),
        "reported_within_14_days_rate": loop["rate"] if loop["rate"] is not None else "—",
    }
