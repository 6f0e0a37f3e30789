"""Rules as data, templates Chinese first, and the closed-loop figure."""

from datetime import UTC, datetime, timedelta

import pytest
from alliance_notification.domain.closed_loop import closed_loop
from alliance_notification.domain.default_templates import DEFAULT_TEMPLATES
from alliance_notification.domain.errors import TemplateInvalid
from alliance_notification.domain.rules import DEFAULT_RULES, LAGGING, Rule
from alliance_notification.domain.templates import (
    PREVIEW_CONTEXT,
    MessageTemplate,
    check_template,
    compiled,
    render_email,
    render_sms,
)
from pydantic import ValidationError

pytestmark = pytest.mark.unit
TEMPLATES = {t.name: t for t in DEFAULT_TEMPLATES}


def test_the_lagging_rule_escalates_after_14_and_30_days():
    rule = next(r for r in DEFAULT_RULES if r.name == LAGGING)
    assert [(s.audience, s.after_days) for s in rule.steps] == [
        ("branch_secretary", 0),
        ("committee", 14),
        ("secretariat", 30),
    ]
    assert rule.min_interval_days == 7 and rule.sms_per_phone_per_day == 5
    assert (rule.quiet_hours.start_hour, rule.quiet_hours.end_hour) == (21, 8)


def test_a_rule_whose_steps_go_back_in_time_is_refused():
    body = next(r for r in DEFAULT_RULES if r.name == LAGGING).model_dump()
    body["steps"][1]["after_days"] = 40
    with pytest.raises(ValidationError, match="increasing"):
        Rule.model_validate(body)


def test_every_step_of_every_default_rule_has_a_template():
    assert all(step.template in TEMPLATES for rule in DEFAULT_RULES for step in rule.steps)


@pytest.mark.parametrize("template", DEFAULT_TEMPLATES, ids=lambda t: t.name)
def test_every_default_template_renders_chinese_first_then_english(template):
    mail = render_email(template, PREVIEW_CONTEXT)
    zh, _, en = mail.text.partition("----------")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and en.strip()
    subject_zh, _, subject_en = mail.subject.partition(" / ")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in subject_zh) and subject_en


def test_the_lagging_reminder_names_the_branch_days_and_period():
    mail = render_email(TEMPLATES["lagging_reminder"], {**PREVIEW_CONTEXT, "days_since_last_meeting": 75})
    assert "零售业务部党支部" in mail.subject and "75" in mail.text and "2026-Q3" in mail.text


def test_sms_templates_map_to_provider_codes_and_named_params():
    sms = render_sms(TEMPLATES["lagging_reminder"], PREVIEW_CONTEXT)
    assert sms.params == {"branch": "零售业务部党支部", "days": "75"}
    assert set(sms.provider_codes) == {"aliyun", "tencent"} and sms.text.startswith("【市金融党建联盟】")


def test_a_template_with_a_syntax_error_names_the_field():
    bad = MessageTemplate(name="x", email_subject_zh="ok", email_body_zh="{% for %}")
    with pytest.raises(TemplateInvalid) as info:
        check_template(bad)
    assert info.value.field == "email_body_zh"


def test_a_template_compiles_once_and_an_edited_one_renders_its_new_text():
    template = MessageTemplate(name="x", email_subject_zh="{{ organization_name }} 提醒 7f3a", email_body_zh="正文")
    misses = compiled.cache_info().misses
    first = render_email(template, {"organization_name": "第一党支部"})
    again = render_email(template, {"organization_name": "第二党支部"})
    assert compiled.cache_info().misses == misses + 2  # its subject and its body, once each
    assert (first.subject, again.subject) == ("第一党支部 提醒 7f3a", "第二党支部 提醒 7f3a")
    edited = template.model_copy(update={"email_subject_zh": "{{ organization_name }} 再次提醒 7f3a"})
    assert render_email(edited, {"organization_name": "第一党支部"}).subject == "第一党支部 再次提醒 7f3a"


def test_the_sandbox_refuses_to_reach_python_internals():
    evil = MessageTemplate(name="x", email_subject_zh="s", email_body_zh="{{ ''.__class__.__mro__ }}")
    with pytest.raises(Exception, match=r"unsafe|access"):
        render_email(evil, {})


def test_the_closed_loop_counts_reports_within_14_days_and_leaves_open_windows_out_of_the_rate():
    now = datetime(2026, 10, 1, tzinfo=UTC)
    day = timedelta(days=1)
    reminders = [
        {"created_at": now - 30 * day, "reported_at": now - 25 * day},  # answered in 5 days
        {"created_at": now - 30 * day, "reported_at": now - 10 * day},  # answered, but after 20 days
        {"created_at": now - 20 * day, "reported_at": None},  # never
        {"created_at": now - 3 * day, "reported_at": None},  # window still open
    ]
    figure = closed_loop(reminders, now)
    assert figure == {
        "reminders": 4,
        "reported_within_14_days": 1,
        "not_reported_within_14_days": 2,
        "window_open": 1,
        "rate": round(1 / 3, 4),
    }
