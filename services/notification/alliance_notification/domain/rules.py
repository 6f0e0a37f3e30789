"""Reminder rules as data: who is reminded, by which channels, when a reminder escalates, and the
limits that keep reminders from becoming spam. The secretariat edits them through the API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ChannelName = Literal["email", "sms"]
Audience = Literal["branch_secretary", "committee", "secretariat", "institution_contact"]


class Step(BaseModel):
    """One rung of a rule's ladder: `after_days` from the first reminder, to `audience`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    after_days: int = Field(ge=0, le=365)
    audience: Audience
    channels: list[ChannelName] = Field(min_length=1)
    template: str = Field(min_length=1, max_length=80)


class QuietHours(BaseModel):
    """SMS is never sent between `start_hour` and `end_hour` (local time); it waits until `end_hour`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    start_hour: int = Field(default=21, ge=0, le=23)
    end_hour: int = Field(default=8, ge=0, le=23)
    timezone: str = "Asia/Shanghai"


class Rule(BaseModel):
    """A reminder rule. `steps[0]` fires when the rule triggers; later steps fire while the case
    stays open (the branch has not reported again)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    description: str = ""
    enabled: bool = True
    steps: list[Step] = Field(min_length=1, max_length=10)
    min_interval_days: int = Field(default=7, ge=0, le=90)  # per organisation and rule
    sms_per_phone_per_day: int = Field(default=5, ge=1, le=50)
    quiet_hours: QuietHours = QuietHours()
    gather_minutes: int = Field(default=0, ge=0, le=24 * 60)  # collect items before sending
    closes_on_report: bool = False  # a meeting reported by the branch closes the case
    version: int = 1

    @model_validator(mode="after")
    def _steps_in_order(self) -> Rule:
        days = [s.after_days for s in self.steps]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("steps must have strictly increasing after_days")
        if len({s.name for s in self.steps}) != len(self.steps):
            raise ValueError("step names must be unique")
        return self

    def step(self, index: int) -> Step | None:
        return self.steps[index] if 0 <= index < len(self.steps) else None


def _step(name: str, days: int, audience: Audience, channels: list[ChannelName], template: str) -> Step:
    return Step(name=name, after_days=days, audience=audience, channels=channels, template=template)


LAGGING = "lagging_branch"
AT_RISK = "at_risk_branch"
SUBMISSION_REJECTED = "submission_rejected"
TRANSFER_OVERDUE = "transfer_overdue"
REPORTS_MISSING = "quarter_end_missing_reports"
WEEKLY_DIGEST = "weekly_digest"
INSTITUTION_DIGEST = "institution_weekly_digest"
SUBMISSION_RETURNED = "submission_returned"

# rules whose reminders ask a branch to report; the closed-loop figure is computed over these
BRANCH_RULES = (LAGGING, AT_RISK, REPORTS_MISSING)

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        name=LAGGING,
        description="落后支部：提醒支部书记，14 天后升级至机构党委，30 天后列入秘书处清单 / "
        "lagging branch: remind the secretary, escalate to the committee after 14 days, "
        "the secretariat after 30",
        steps=[
            _step("secretary", 0, "branch_secretary", ["email", "sms"], "lagging_reminder"),
            _step("committee", 14, "committee", ["email", "sms"], "lagging_escalation"),
            _step("secretariat", 30, "secretariat", ["email"], "lagging_secretariat"),
        ],
        closes_on_report=True,
    ),
    Rule(
        name=AT_RISK,
        description="风险支部：一次提前提醒 / at-risk branch: one early reminder",
        steps=[_step("secretary", 0, "branch_secretary", ["email", "sms"], "at_risk_reminder")],
        closes_on_report=True,
    ),
    Rule(
        name=SUBMISSION_REJECTED,
        description="上报被拒：告知上报机构原因 / rejected submissions: tell the reporter why",
        steps=[_step("reporter", 0, "institution_contact", ["email"], "submission_rejected")],
        min_interval_days=0,
        gather_minutes=10,
    ),
    Rule(
        name=TRANSFER_OVERDUE,
        description="组织关系转接逾期：提醒双方组织 / overdue transfer: remind both organisations",
        steps=[_step("organization", 0, "branch_secretary", ["email", "sms"], "transfer_overdue")],
    ),
    Rule(
        name=REPORTS_MISSING,
        description="季末缺报提醒 / quarter-end reminder of missing reports",
        steps=[_step("secretary", 0, "branch_secretary", ["email", "sms"], "reports_missing")],
    ),
    Rule(
        name=SUBMISSION_RETURNED,
        description="上报被退回：告知上报人退回意见 / a returned report: tell its reporter why",
        steps=[_step("reporter", 0, "branch_secretary", ["email", "sms"], "submission_returned")],
        min_interval_days=0,  # every return is told
    ),
    Rule(
        name=WEEKLY_DIGEST,
        description="每周摘要邮件发送秘书处 / weekly digest email to the secretariat",
        steps=[_step("digest", 0, "secretariat", ["email"], "weekly_digest")],
        min_interval_days=6,
    ),
    Rule(
        name=INSTITUTION_DIGEST,
        description="每周摘要邮件发送各机构党委（本机构所属支部） / "
        "weekly digest to each institution's Party committee about its own branches",
        steps=[_step("committee", 0, "committee", ["email"], "institution_weekly_digest")],
        min_interval_days=6,
    ),
)
