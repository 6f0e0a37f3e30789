"""Every default template rendered with the worst data it can meet: a branch that never met, names
the registry never sent, no committee, no reasons' Chinese part, a digest with no rate yet. Each
renders whole Chinese sentences: no None, no half sentence, no code, no English in the Chinese part."""

from __future__ import annotations

import re
from typing import Any

import pytest
from alliance_notification.domain.default_templates import DEFAULT_TEMPLATES
from alliance_notification.domain.templates import render_email, render_sms

pytestmark = pytest.mark.unit
TEMPLATES = {t.name: t for t in DEFAULT_TEMPLATES}
NEVER_MET: dict[str, Any] = {
    "organization_name": "新设支部", "institution_name": "", "committee_name": None, "period": "2026-Q4",
    "step": "secretary", "days_since_last_meeting": None, "org_life_score": None,
    "first_reminder_at": "2026-11-02 09:00",
}
WORST: dict[str, dict[str, Any]] = {
    "lagging_reminder": NEVER_MET,
    "lagging_escalation": NEVER_MET,
    "lagging_secretariat": NEVER_MET,
    "at_risk_reminder": NEVER_MET,
    "submission_rejected": {
        "institution_name": "示例银行", "rejected_count": 2, "reasons": [
            {"submission_id": "e-1", "field": "data.amount_cny", "field_zh": "缴费金额（元）",
             "reason": "缴费金额（元）应不小于 0 / data.amount_cny: Input should be greater than or equal to 0",
             "reason_zh": "缴费金额（元）应不小于 0",
             "reason_en": "data.amount_cny: Input should be greater than or equal to 0"},
            {"submission_id": "e-2", "field": "data.held_at", "field_zh": "召开时间",
             "reason": "召开时间须带时区 / data.held_at: Input should have timezone info",
             "reason_zh": "召开时间须带时区", "reason_en": "data.held_at: Input should have timezone info"},
        ],
    },
    "transfer_overdue": {"organization_name": "零售支部", "from_organization_name": "零售支部",
                         "to_organization_name": "公司支部", "days_overdue": 1},
    "reports_missing": {"organization_name": "零售支部", "period": "2026-Q4", "due_on": "2026-12-31",
                        "missing": ["支部党员大会", "党课", "党费"],
                        "missing_en": ["branch general meeting", "party lesson", "dues"]},
    "submission_returned": {"organization_name": "新设支部", "institution_name": "", "activity_zh": "公共活动",
                            "activity_en": "public activity", "held_on": None, "reviewer_zh": "秘书处",
                            "comment": "请补充"},
    "weekly_digest": {"week": "2026-W48", "digest": {"open_cases": 0, "sent": 0, "failed": 0,
                                                      "reported_within_14_days_rate": None}},
    "institution_weekly_digest": {"week": "2026-W48", "institution_name": "", "committee_name": None,
                                  "digest": {"open_cases": 0, "branches": [], "more_branches": 0, "sms": 0,
                                             "cost_cny": 0.0, "monthly_budget_cny": None,
                                             "reported_within_14_days_rate": "—"}},
}
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def chinese_part(text: str) -> str:
    return text.split("\n----------\n", 1)[0].split(" / ", 1)[0]


def test_every_template_has_a_worst_case() -> None:
    assert set(WORST) == set(TEMPLATES)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_each_template_renders_whole_chinese_sentences_for_its_worst_case(name: str) -> None:
    template, context = TEMPLATES[name], WORST[name]
    mail = render_email(template, context)
    texts = [mail.subject, mail.text]
    if template.sms is not None:
        sms = render_sms(template, context)
        texts += [sms.text, *sms.params.values()]
    for text in texts:
        assert "None" not in text and "{{" not in text and "较长时间 天" not in text, text
        assert "：\n" not in text.lstrip()[:2] and not text.lstrip().startswith("："), text
        assert not SNAKE.search(chinese_part(text)), text  # the English part may name a field's path
    zh = chinese_part(mail.text)
    assert not re.search(r"[A-Za-z]{4,}", zh.replace("Q4", "")), zh  # no English in the Chinese part
    if template.sms is not None:
        assert not re.search(r"[A-Za-z]{4,}", render_sms(template, context).text), name


@pytest.mark.parametrize("rate", [None, "—", 0.5])
def test_the_digest_renders_whatever_its_rate_is(rate: object) -> None:
    context = {"week": "2026-W48", "digest": {"open_cases": 1, "sent": 1, "failed": 0,
                                               "reported_within_14_days_rate": rate}}
    text = render_email(TEMPLATES["weekly_digest"], context).text
    assert ("50%" in text) == (rate == 0.5) and "None" not in text


def test_a_branch_that_never_met_is_told_so_in_both_languages() -> None:
    mail = render_email(TEMPLATES["lagging_reminder"], NEVER_MET)
    assert "自成立以来尚未上报过" in mail.text and "since it was set up" in mail.text
    assert "尚未上报过组织生活" in render_sms(TEMPLATES["lagging_reminder"], NEVER_MET).text


def test_the_rejection_mail_reads_chinese_in_its_chinese_part() -> None:
    mail = render_email(TEMPLATES["submission_rejected"], WORST["submission_rejected"])
    zh, en = mail.text.split("\n----------\n")
    assert "- e-1 缴费金额（元）应不小于 0" in zh and "Input should" not in zh and "amount_cny" not in zh
    assert "- e-1 data.amount_cny: Input should be greater than or equal to 0" in en


def test_the_institution_digest_names_its_branches_and_its_sms_against_the_budget() -> None:
    context = {"week": "2026-W38", "institution_name": "示例银行", "committee_name": "示例银行党委",
               "digest": {"open_cases": 1, "more_branches": 0, "sms": 3, "cost_cny": 0.135,
                          "monthly_budget_cny": 10.0, "reported_within_14_days_rate": 0.5,
                          "branches": [{"name": "零售支部", "rule_zh": "落后支部", "step_zh": "提醒支部书记",
                                        "days_open": 3}]}}
    zh = chinese_part(render_email(TEMPLATES["institution_weekly_digest"], context).text)
    assert zh.startswith("示例银行党委：") and "- 零售支部（落后支部，提醒支部书记，已 3 天）" in zh
    assert "本月短信 3 条，费用 0.14 元（月度预算 10.00 元）" in zh and "50%" in zh
