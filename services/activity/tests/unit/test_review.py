"""The review's rules: which step goes from which state, who reviews whose reports, and who resubmits."""

from __future__ import annotations

import pytest
from alliance_activity.domain import review as r
from alliance_shared.contracts.vocabulary import ReviewState, Role
from alliance_shared.errors import Invalid

pytestmark = pytest.mark.unit
APPROVE, RETURN = r.ApproveSubmission("e-1"), r.ReturnSubmission("e-1", "请补充参会名单")


def test_a_report_under_review_is_approved_or_returned_and_an_approved_one_is_final():
    for under_review in (ReviewState.PENDING, ReviewState.RESUBMITTED):
        assert r.decided(under_review, APPROVE) is ReviewState.APPROVED
        assert r.decided(under_review, RETURN) is ReviewState.RETURNED
    with pytest.raises(r.AlreadyApproved, match=r"^该上报已审核通过"):
        r.decided(ReviewState.APPROVED, RETURN)
    with pytest.raises(r.NotUnderReview, match="已被退回"):
        r.decided(ReviewState.RETURNED, APPROVE)


def test_only_a_returned_report_is_resubmitted():
    r.resubmittable(ReviewState.RETURNED)
    with pytest.raises(r.AlreadyApproved):
        r.resubmittable(ReviewState.APPROVED)
    for state in (ReviewState.PENDING, ReviewState.RESUBMITTED):
        with pytest.raises(r.NotReturned):
            r.resubmittable(state)


def test_a_return_needs_a_comment():
    with pytest.raises(Invalid, match=r"^退回须填写退回意见") as refused:
        r.required_comment(" \n ")
    assert refused.value.field == "comment"
    assert r.required_comment(" 请补充 ") == "请补充"
    with pytest.raises(Invalid):
        r.optional_comment("长" * (r.COMMENT_MAX + 1))


def test_records_stored_before_reviews_existed_are_pending():
    assert r.state_of({}) is ReviewState.PENDING
    assert r.state_of({"review_state": "returned"}) is ReviewState.RETURNED


def test_the_party_admin_reviews_their_institution_and_the_secretariat_emerging_ones_without_a_party_org():
    bank = {"_id": "i-bank", "ownership": "state_owned", "party_org_status": "established_complete"}
    fintech = {"_id": "i-fin", "ownership": "emerging", "party_org_status": "not_established_incapable"}
    organised = {"_id": "i-org", "ownership": "emerging", "party_org_status": "established_incomplete"}
    assert r.may_review(Role.INSTITUTION_ADMIN, "i-bank", bank)
    assert not r.may_review(Role.INSTITUTION_ADMIN, "i-fin", bank)
    assert not r.may_review(Role.BRANCH_SECRETARY, "i-bank", bank)
    assert not r.may_review(None, "i-bank", bank)  # an institution's own system does not review
    assert r.may_review(Role.SECRETARIAT, None, fintech)
    assert not r.may_review(Role.SECRETARIAT, None, bank)
    assert not r.may_review(Role.SECRETARIAT, None, organised)


def test_the_reporting_institution_resubmits_and_a_secretary_only_for_their_branch():
    record = {"institution_id": "i-bank", "reporter_institution_id": "i-bank", "organization_id": "b-1"}
    assert r.may_resubmit(None, "i-bank", None, record)
    assert r.may_resubmit(Role.INSTITUTION_ADMIN, "i-bank", None, record)
    assert r.may_resubmit(Role.BRANCH_SECRETARY, "i-bank", "b-1", record)
    assert not r.may_resubmit(Role.BRANCH_SECRETARY, "i-bank", "b-2", record)
    assert not r.may_resubmit(Role.INSTITUTION_ADMIN, "i-other", None, record)
