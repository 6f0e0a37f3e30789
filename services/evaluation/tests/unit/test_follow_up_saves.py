"""A follow-up save names what it changes: a field left out keeps its value, one sent as null is
cleared, and the history entry lists exactly the fields whose value moved, before and after."""

from __future__ import annotations

import pytest
from alliance_evaluation.usecases.follow_ups import RecordFollowUp, changes

pytestmark = pytest.mark.unit
SAVED = {
    "contacted": True, "contacted_on": "2026-10-10", "reason": "书记外出培训", "promised_on": "2026-10-20", "note": "",
}


def test_a_save_that_names_only_the_reason_leaves_the_dates_alone() -> None:
    named = RecordFollowUp.model_validate({"version": 1, "reason": " 书记已返岗 "}).named()
    assert named == {"reason": "书记已返岗"}
    assert changes(SAVED, named) == {"reason": {"from": "书记外出培训", "to": "书记已返岗"}}


def test_a_field_sent_as_null_is_cleared_and_recorded_as_such() -> None:
    named = RecordFollowUp.model_validate({"version": 1, "contacted_on": None}).named()
    assert named == {"contacted_on": None}
    assert changes(SAVED, named) == {"contacted_on": {"from": "2026-10-10", "to": None}}


def test_a_field_named_with_its_current_value_is_not_a_change() -> None:
    named = RecordFollowUp.model_validate({"version": 1, "contacted": True, "promised_on": "2026-10-20"}).named()
    assert changes(SAVED, named) == {}


def test_the_first_save_records_what_it_set_against_an_empty_record() -> None:
    named = RecordFollowUp.model_validate({"version": 0, "contacted": True, "reason": "已电话联系"}).named()
    assert changes({}, named) == {"contacted": {"from": False, "to": True}, "reason": {"from": "", "to": "已电话联系"}}
