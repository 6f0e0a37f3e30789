from datetime import UTC, date, datetime

import pytest
from alliance_registry.domain.transfers import Transfer, TransferNotPending, TransferStatus
from alliance_shared.errors import Invalid

pytestmark = pytest.mark.unit

NOW = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def requested(**kw) -> Transfer:
    args = dict(
        transfer_id="trf_1",
        member_id="mem_1",
        from_organization_id="org_a",
        from_institution_id="ins_a",
        to_organization_id="org_b",
        to_institution_id="ins_b",
        now=NOW,
        today=date(2026, 7, 1),
        deadline_days=30,
    )
    return Transfer.request(**{**args, **kw})


def test_a_request_is_pending_with_a_deadline_thirty_days_on():
    t = requested()
    assert t.status is TransferStatus.PENDING
    assert t.deadline == date(2026, 7, 31)


def test_a_transfer_into_the_same_organisation_is_refused():
    with pytest.raises(Invalid) as err:
        requested(to_organization_id="org_a")
    assert err.value.field == "to_organization_id"


def test_an_accepted_transfer_cannot_then_be_refused():
    accepted = requested().accept(NOW)
    assert accepted.status is TransferStatus.ACCEPTED and accepted.decided_at == NOW
    with pytest.raises(TransferNotPending):
        accepted.refuse(NOW, "too late")


def test_a_refused_transfer_keeps_its_reason_and_cannot_be_accepted():
    refused = requested().refuse(NOW, "不属于本单位")
    assert refused.reason == "不属于本单位"
    with pytest.raises(TransferNotPending):
        refused.accept(NOW)


def test_a_pending_transfer_is_overdue_only_after_its_deadline_day():
    t = requested()
    assert not t.is_overdue(date(2026, 7, 31))
    assert t.is_overdue(date(2026, 8, 1)) and t.days_overdue(date(2026, 8, 3)) == 3


def test_the_overdue_notice_is_needed_once_and_never_for_a_decided_transfer():
    t = requested()
    assert t.needs_overdue_notice(date(2026, 8, 2))
    from dataclasses import replace

    assert not replace(t, overdue_notified=True).needs_overdue_notice(date(2026, 8, 2))
    assert not t.accept(NOW).needs_overdue_notice(date(2026, 8, 2))


def test_a_transfer_round_trips_through_its_stored_form():
    t = requested().refuse(NOW, "x")
    assert Transfer.from_dict(t.to_dict()) == t
