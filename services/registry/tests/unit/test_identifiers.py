import pytest
from alliance_registry.domain.identifiers import (
    normalize_email,
    normalize_id_number,
    normalize_phone,
    normalize_uscc,
)
from alliance_shared.errors import Invalid
from stdnum.cn import ric

pytestmark = pytest.mark.unit


def test_a_valid_uscc_is_accepted_in_canonical_upper_case():
    assert normalize_uscc(" 91110000600037341l ") == "91110000600037341L"


def test_a_uscc_with_a_wrong_check_character_is_invalid_on_the_uscc_field():
    with pytest.raises(Invalid) as err:
        normalize_uscc("91110000600037341M")
    assert err.value.field == "uscc"
    assert "校验位" in err.value.message


@pytest.mark.parametrize("bad", ["", "9111000060003734", "91110000600037341LX", "ABCDEFGH600037341L"])
def test_a_malformed_uscc_is_invalid(bad):
    with pytest.raises(Invalid) as err:
        normalize_uscc(bad)
    assert err.value.field == "uscc"


def test_a_valid_id_number_is_accepted_and_a_lower_case_x_upper_cased():
    assert normalize_id_number("11010519491231002x") == "11010519491231002X"


def test_an_id_number_with_a_wrong_check_digit_is_invalid_and_not_echoed():
    with pytest.raises(Invalid) as err:
        normalize_id_number("110105194912310021")
    assert err.value.field == "id_number"
    assert "110105194912310021" not in err.value.message


def test_an_id_number_with_an_impossible_birth_date_is_invalid():
    body = "11010519491331002"  # month 13
    with pytest.raises(Invalid):
        normalize_id_number(body + ric.calc_check_digit(body + "0"))


@pytest.mark.parametrize("raw", ["13812345678", "+86 138-1234-5678", "0086 13812345678"])
def test_a_mainland_mobile_number_is_normalized_to_eleven_digits(raw):
    assert normalize_phone(raw) == "13812345678"


@pytest.mark.parametrize("bad", ["12812345678", "1381234567", "075512345678", "phone"])
def test_anything_else_is_not_a_mobile_number(bad):
    with pytest.raises(Invalid) as err:
        normalize_phone(bad, field="secretary.phone")
    assert err.value.field == "secretary.phone"


def test_an_email_is_lower_cased_and_a_malformed_one_refused():
    assert normalize_email("Zhang.San@Bank.CN") == "zhang.san@bank.cn"
    with pytest.raises(Invalid):
        normalize_email("zhang.san@bank")
