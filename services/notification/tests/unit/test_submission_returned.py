"""A returned report tells its branch's secretary why, by email and SMS, Chinese first."""

import pytest
from alliance_notification.domain.default_templates import DEFAULT_TEMPLATES
from alliance_notification.domain.rules import DEFAULT_RULES, SUBMISSION_RETURNED
from alliance_notification.domain.templates import render_email, render_sms

pytestmark = pytest.mark.unit
TEMPLATE = next(t for t in DEFAULT_TEMPLATES if t.name == "submission_returned")
CONTEXT = {
    "organization_name": "第一支部委员会", "institution_name": "鹏信金融科技", "activity_zh": "支部委员会",
    "activity_en": "meeting", "held_on": "2026-10-15", "reviewer_zh": "机构党务管理员",
    "comment": "参会人员名单不完整，请补充后重新提交。另请附会议记录照片，并注明主持人和记录人姓名。",
}  # fmt: skip


def test_every_return_tells_the_branch_secretary_by_email_and_sms():
    rule = next(r for r in DEFAULT_RULES if r.name == SUBMISSION_RETURNED)
    assert [(s.audience, s.channels, s.template) for s in rule.steps] == [
        ("branch_secretary", ["email", "sms"], "submission_returned")
    ]
    assert rule.min_interval_days == 0  # a second return in a week is told too


def test_the_mail_and_the_sms_say_what_was_returned_and_why_chinese_first():
    mail = render_email(TEMPLATE, CONTEXT)
    assert mail.subject.startswith("【市金融党建联盟】第一支部委员会上报的支部委员会被退回")
    assert "退回意见：参会人员名单不完整" in mail.text and "2026-10-15召开" in mail.text
    assert mail.text.index("退回意见") < mail.text.index("Comment:")
    sms = render_sms(TEMPLATE, CONTEXT)
    assert sms.text.startswith(
        "【市金融党建联盟】第一支部委员会上报的支部委员会（2026-10-15）被退回：参会人员名单不完整"
    )
    assert "…" in sms.text and len(sms.text) < 120  # a long comment is cut, the SMS stays short
    assert sms.params == {"branch": "第一支部委员会", "activity": "支部委员会"}
