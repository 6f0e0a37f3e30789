import pytest
from alliance_registry.domain import access
from alliance_registry.domain.members import check_cadre_roles, check_pipeline_step
from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import MemberStatus, Role
from alliance_shared.errors import Invalid

pytestmark = pytest.mark.unit

SECRETARIAT = Principal("s", Role.SECRETARIAT)
ADMIN_A = Principal("a", Role.INSTITUTION_ADMIN, institution_id="ins_a")
SECRETARY_X = Principal("x", Role.BRANCH_SECRETARY, institution_id="ins_a", organization_id="org_x")
KEY_A = Principal("api-key:k", None, institution_id="ins_a", key_id="k")
EVALUATOR = Principal("e", Role.EVALUATOR)


def test_the_pipeline_moves_forward_and_may_skip_steps():
    check_pipeline_step(MemberStatus.APPLICANT, MemberStatus.ACTIVIST)
    check_pipeline_step(MemberStatus.ACTIVIST, MemberStatus.PROBATIONARY)


def test_the_pipeline_never_moves_back():
    with pytest.raises(Invalid) as err:
        check_pipeline_step(MemberStatus.FULL, MemberStatus.PROBATIONARY)
    assert err.value.field == "status"


def test_cadre_roles_are_known_and_full_and_part_time_exclusive():
    assert check_cadre_roles(["dual_responsibility", "dual_responsibility"]) == ["dual_responsibility"]
    with pytest.raises(Invalid):
        check_cadre_roles(["party_affairs_full_time", "party_affairs_part_time"])
    with pytest.raises(Invalid):
        check_cadre_roles(["chairman"])


def test_an_institution_admin_manages_only_its_own_institution():
    assert access.may_manage_institution(ADMIN_A, "ins_a")
    assert not access.may_manage_institution(ADMIN_A, "ins_b")
    assert access.may_manage_institution(SECRETARIAT, "ins_b")


def test_a_machine_key_reads_its_institution_but_never_manages_it():
    assert access.may_read_institution(KEY_A, "ins_a") and not access.may_read_institution(KEY_A, "ins_b")
    assert not access.may_manage_institution(KEY_A, "ins_a")
    assert access.may_read_member(KEY_A, "org_x", "ins_a") and not access.may_manage_member(
        KEY_A, "org_x", "ins_a"
    )


def test_a_branch_secretary_sees_only_its_own_organisation():
    assert access.may_read_member(SECRETARY_X, "org_x", "ins_a")
    assert not access.may_read_member(SECRETARY_X, "org_y", "ins_a")
    assert not access.may_read_organization(SECRETARY_X, "org_y", ["ins_a"])


def test_evaluators_read_institutions_but_no_personal_records():
    assert access.may_read_institution(EVALUATOR, "ins_a")
    assert not access.may_read_member(EVALUATOR, "org_x", "ins_a")


def test_only_the_receiving_side_decides_a_transfer():
    admin_b = Principal("b", Role.INSTITUTION_ADMIN, institution_id="ins_b")
    assert access.may_decide_transfer(admin_b, "org_y", "ins_b")
    assert not access.may_decide_transfer(ADMIN_A, "org_y", "ins_b")


def test_only_the_secretariat_reads_unmasked_values():
    assert access.may_read_unmasked(SECRETARIAT)
    assert not access.may_read_unmasked(ADMIN_A) and not access.may_read_unmasked(KEY_A)
