"""The Kafka key of each event keeps the history that must stay in order together: registry's by
institution (a member's events with its institution's, whichever organisation they name), activity's
by branch, a score by the object scored, a period's events by the period."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alliance_shared.contracts import evaluation, registry
from alliance_shared.contracts.base import EventPayload

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_a_registry_event_naming_an_organisation_is_keyed_by_its_institution() -> None:
    member = registry.MemberRegistered(
        member_id="m-1", organization_id="org-7", institution_id="inst-3", status="full", joined_at=date(2020, 1, 1)
    )
    assert member.ordering_key() == "inst-3"
    assert all(issubclass(p, registry.RegistryEvent) for p in registry.PAYLOADS)


def test_an_event_of_another_topic_is_keyed_by_its_organisation_first() -> None:
    class BranchThing(EventPayload):
        event_type = "fpba.test.happened.v1"
        kafka_topic = "test"
        organization_id: str
        institution_id: str

    assert BranchThing(organization_id="org-7", institution_id="inst-3").ordering_key() == "org-7"


def test_a_score_is_keyed_by_the_object_scored_and_a_period_event_by_its_period() -> None:
    score = evaluation.ScoreComputed(
        period="2026-Q4", object_type="branch", object_id="org-7", institution_id="inst-3", score=91.5,
        grade="excellent", vetoed=False, ruleset="2026.1", computation_id="c-1", computed_at=AT,
    )  # fmt: skip
    closed = evaluation.PeriodClosed(period="2026-Q3", closed_at=AT, closed_by="secretariat")
    assert (score.ordering_key(), closed.ordering_key()) == ("org-7", "2026-Q3")
