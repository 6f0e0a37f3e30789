from datetime import date

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


TODAY = date(2026, 12, 1)

# Shenzhen's districts and the year each was created: people born before it hold its code too,
# since the area code is where the household was registered when the number was issued.
SHENZHEN_DISTRICTS = {
    "440303": 1990,  # 罗湖区
    "440304": 1990,  # 福田区
    "440305": 1990,  # 南山区
    "440306": 1993,  # 宝安区
    "440307": 1993,  # 龙岗区
    "440308": 1998,  # 盐田区
    "440309": 2017,  # 龙华区
    "440310": 2017,  # 坪山区
    "440311": 2018,  # 光明区
}


def id_number(area: str, birth: str, sequence: str = "123") -> str:
    body = area + birth + sequence
    return body + ric.calc_check_digit(body + "0")


def test_the_issues_futian_number_born_before_the_district_is_accepted():
    assert normalize_id_number("44030419760111582X", today=TODAY) == "44030419760111582X"


def test_a_valid_id_number_is_accepted_and_a_lower_case_x_upper_cased():
    assert normalize_id_number("11010519491231002x", today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize("area", sorted(SHENZHEN_DISTRICTS))
def test_every_shenzhen_district_is_accepted_for_every_birth_year_from_1950_to_2005(area):
    refused = []
    for year in range(1950, 2006):
        number = id_number(area, f"{year}0611", f"{year % 1000:03d}")
        try:
            normalize_id_number(number, today=TODAY)
        except Invalid as exc:
            refused.append((year, exc.message))
    assert refused == []


@pytest.mark.parametrize(("area", "created"), sorted(SHENZHEN_DISTRICTS.items()))
def test_a_shenzhen_number_born_before_its_district_existed_is_accepted(area, created):
    number = id_number(area, "19760111")  # the issue's birth date, before every district
    assert 1976 < created
    assert not ric.is_valid(number)  # what the registry used to refuse
    assert normalize_id_number(number, today=TODAY) == number


def test_an_id_number_with_a_wrong_check_digit_names_the_check_digit_and_is_not_echoed():
    with pytest.raises(Invalid) as err:
        normalize_id_number("110105194912310021", today=TODAY)
    assert err.value.field == "id_number"
    assert err.value.message.startswith("身份证号校验码错误")
    assert "110105194912310021" not in err.value.message


@pytest.mark.parametrize("birth", ["19491331", "19490230", "20270101", "18991231"])
def test_an_impossible_or_future_birth_date_names_the_birth_date(birth):
    with pytest.raises(Invalid) as err:
        normalize_id_number(id_number("110105", birth), today=TODAY)
    assert err.value.message.startswith("身份证号出生日期无效")


def test_a_birth_date_of_today_is_accepted_and_tomorrow_refused():
    assert normalize_id_number(id_number("440304", "20261201"), today=TODAY)
    with pytest.raises(Invalid):
        normalize_id_number(id_number("440304", "20261202"), today=TODAY)


@pytest.mark.parametrize("area", ["999999", "440399", "000000", "440300"[:4] + "99"])
def test_an_area_code_never_in_the_division_list_names_the_area_code(area):
    with pytest.raises(Invalid) as err:
        normalize_id_number(id_number(area, "19850315"), today=TODAY)
    assert err.value.message.startswith("身份证号地区码不存在")


def test_a_historical_area_code_is_accepted():
    # 110103 崇文区 was merged into 东城区 in 2010; its people keep their numbers
    assert normalize_id_number(id_number("110103", "19800101"), today=TODAY)
    assert normalize_id_number(id_number("110103", "20150101"), today=TODAY)


@pytest.mark.parametrize("bad", ["", "4403041976011158", "44030419760111582X1", "44030419760111"])
def test_a_number_of_the_wrong_length_names_the_length(bad):
    with pytest.raises(Invalid) as err:
        normalize_id_number(bad, today=TODAY)
    assert err.value.message.startswith("身份证号位数错误")


@pytest.mark.parametrize("bad", ["4403041976O111582X", "44030419760111582Y"])
def test_a_number_with_letters_where_digits_belong_names_the_format(bad):
    with pytest.raises(Invalid) as err:
        normalize_id_number(bad, today=TODAY)
    assert err.value.message.startswith("身份证号格式错误")


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
