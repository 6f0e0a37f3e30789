"""Message templates: Chinese first, an English variant, rendered with a sandboxed Jinja2. SMS
templates map to the provider's approved template code and named parameters, because providers in
mainland China send only pre-approved texts."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

from .errors import TemplateInvalid

_env = SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
SMS_SEGMENT = 70  # characters of one SMS; a longer one goes in parts of 67, each billed


def brief(items: Any, limit: int = 12, sep: str = "、") -> str:
    """Names joined until `limit` characters, then "…等N项": an SMS (and a provider's template
    parameter, 12 characters at Tencent) names what is missing without running long."""
    names = [str(i) for i in (items or [])]
    shown: list[str] = []
    for name in names:
        candidate = sep.join([*shown, name])
        more = len(names) - len(shown) - 1
        if shown and len(candidate) + (len(f"等{len(names)}项") if more else 0) > limit:
            return sep.join(shown) + f"等{len(names)}项"
        shown.append(name)
    return sep.join(shown)


def sms_segments(text: str) -> int:
    """How many SMS a text is billed as (70 characters in one, 67 a part beyond)."""
    return 1 if len(text) <= SMS_SEGMENT else -(-len(text) // 67)


_env.filters["brief"] = brief


class SmsTemplate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text_zh: str = Field(min_length=1, max_length=500)
    text_en: str = Field(default="", max_length=500)
    provider_codes: dict[str, str] = Field(default_factory=dict)  # {"aliyun": "SMS_…", "tencent": "123…"}
    params: dict[str, str] = Field(default_factory=dict)  # provider parameter → Jinja2 expression, in order


class MessageTemplate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9_]+$")
    description: str = ""
    email_subject_zh: str = Field(min_length=1, max_length=300)
    email_body_zh: str = Field(min_length=1, max_length=20_000)
    email_subject_en: str = Field(default="", max_length=300)
    email_body_en: str = Field(default="", max_length=20_000)
    sms: SmsTemplate | None = None
    version: int = 1


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str


@dataclass(frozen=True)
class RenderedSms:
    text: str
    params: dict[str, str]
    provider_codes: dict[str, str]


def check_template(template: MessageTemplate) -> None:
    """Every Jinja2 source of `template` compiles; `TemplateInvalid` names the one that does not."""
    sources: dict[str, str] = {
        k: v for k, v in template.model_dump().items() if k.startswith("email_") and isinstance(v, str)
    }
    if template.sms is not None:
        sources["sms.text_zh"] = template.sms.text_zh
        sources["sms.text_en"] = template.sms.text_en
        sources.update({f"sms.params.{k}": v for k, v in template.sms.params.items()})
    for field, source in sources.items():
        try:
            _env.parse(source)
        except TemplateSyntaxError as exc:
            raise TemplateInvalid(
                f"模板语法错误 / template syntax error: {exc.message} (line {exc.lineno})", field=field
            ) from None


@functools.lru_cache(maxsize=1024)
def compiled(source: str) -> Template:
    """`source` compiled once (a template's texts, keyed by their text: an edited template is a new
    key). Compiling on every render was the dispatcher's largest single cost after the store."""
    return _env.from_string(source)


def _render(source: str, context: dict[str, Any]) -> str:
    return compiled(source).render(**context).strip() if source else ""


def render_email(template: MessageTemplate, context: dict[str, Any]) -> RenderedEmail:
    """Chinese first, then English, in one message (recipients read either)."""
    subject_zh, subject_en = (
        _render(template.email_subject_zh, context),
        _render(template.email_subject_en, context),
    )
    body_zh, body_en = _render(template.email_body_zh, context), _render(template.email_body_en, context)
    subject = f"{subject_zh} / {subject_en}" if subject_en else subject_zh
    text = f"{body_zh}\n\n----------\n\n{body_en}\n" if body_en else f"{body_zh}\n"
    return RenderedEmail(subject=subject, text=text)


def render_sms(template: MessageTemplate, context: dict[str, Any]) -> RenderedSms:
    if template.sms is None:
        raise TemplateInvalid(f"模板 {template.name} 没有短信内容 / template has no SMS text", field="sms")
    sms = template.sms
    return RenderedSms(
        text=_render(sms.text_zh, context),
        params={k: _render(v, context) for k, v in sms.params.items()},
        provider_codes=dict(sms.provider_codes),
    )


PREVIEW_CONTEXT: dict[str, Any] = {
    "institution_name": "示例银行深圳分行",
    "organization_name": "零售业务部党支部",
    "period": "2026-Q3",
    "days_since_last_meeting": 75,
    "committee_name": "示例银行深圳分行党委",
    "step": "secretary",
    "reasons": [{"field": "data.held_at", "reason": "缺少时区 / missing UTC offset"}],
    "rejected_count": 1,
    "missing": ["支部党员大会", "党课"],
    "due_on": "2026-09-30",
    "days_overdue": 5,
    "from_organization_name": "零售业务部党支部",
    "to_organization_name": "公司业务部党支部",
    "week": "2026-W40",
    "digest": {"open_cases": 3, "sent": 12, "failed": 1, "reported_within_14_days_rate": 0.5},
    "first_reminder_at": "2026-09-01T09:00:00+08:00",
}
