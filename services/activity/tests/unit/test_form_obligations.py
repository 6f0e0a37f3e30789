"""What the L1 form tells a secretary their branch owes this quarter, and when its sign-in exists."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

import pytest
import yaml
from alliance_activity.domain.obligations import REQUIREMENTS, Standing, owed_this_quarter
from alliance_activity.settings import ActivitySettings
from alliance_shared.contracts.vocabulary import MeetingKind

pytestmark = pytest.mark.unit
RULESETS = Path(__file__).resolve().parents[3] / "evaluation" / "alliance_evaluation" / "rulesets"
K = MeetingKind


def standings(owed: list) -> dict[tuple[str, str], Standing]:
    return {(o.kind.value, o.window.label): o.standing for o in owed}


def test_the_forms_requirements_are_the_newest_rulesets_meetings() -> None:
    newest = max(RULESETS.glob("*.yaml"), key=lambda p: tuple(int(x) for x in p.stem.split(".")))
    meetings = yaml.safe_load(newest.read_text(encoding="utf-8"))["meetings"]
    ours = {r.kind.value: (r.monthly, r.only_with_party_groups) for r in REQUIREMENTS}
    theirs = {k: (v["cadence"] == "monthly", bool(v.get("only_with_party_groups"))) for k, v in meetings.items()}
    assert ours == theirs, newest.name


def test_a_month_ended_without_its_meeting_is_missed_the_current_and_next_are_due() -> None:
    owed = owed_this_quarter(
        date(2026, 11, 20),
        opened=date(2019, 7, 1),
        closed=None,
        has_party_groups=False,
        held=[(K.BRANCH_COMMITTEE_MEETING, date(2026, 10, 9)), (K.PARTY_LESSON, date(2026, 9, 30))],
    )
    got = standings(owed)
    assert got[("branch_committee_meeting", "10月")] is Standing.REPORTED
    assert got[("branch_committee_meeting", "11月")] is Standing.DUE
    assert got[("branch_committee_meeting", "12月")] is Standing.DUE
    assert got[("theme_party_day", "10月")] is Standing.MISSED
    assert got[("party_lesson", "2026年第四季度")] is Standing.DUE  # September's lesson was last quarter
    assert not any(kind == "party_group_meeting" for kind, _ in got)
    assert len(owed) == 3 + 3 + 1 + 1  # committee and theme day monthly, general meeting and lesson quarterly


def test_party_group_meetings_are_owed_by_branches_with_groups_and_no_window_before_the_branch_opened() -> None:
    owed = owed_this_quarter(
        date(2026, 12, 31), opened=date(2026, 11, 20), closed=None, has_party_groups=True, held=[]
    )
    got = standings(owed)
    assert ("party_group_meeting", "12月") in got
    assert ("branch_committee_meeting", "10月") not in got and ("branch_committee_meeting", "11月") not in got
    assert ("party_lesson", "2026年第四季度") not in got  # open 42 of 92 days: less than half
    assert all(s is Standing.DUE for s in got.values())  # 31 December: nothing has ended yet


@pytest.mark.parametrize(
    ("environment", "switch", "enabled"),
    [("development", True, True), ("development", False, False), ("test", True, False)],
)
def test_the_development_sign_in_exists_only_in_development(environment: str, switch: bool, enabled: bool) -> None:
    settings = ActivitySettings(environment=environment, form_dev_sign_in=switch)  # type: ignore[arg-type]
    assert settings.dev_sign_in_enabled is enabled


def test_production_never_offers_the_development_sign_in() -> None:
    settings = ActivitySettings(
        environment="production", auth_jwt_secret="s" * 40, pii_encryption_key=base64.b64encode(b"k" * 32).decode()
    )
    assert settings.form_dev_sign_in and not settings.dev_sign_in_enabled
