"""Validation of the identifiers the registry holds: USCC (GB 32100), resident ID numbers
(GB 11643), mainland mobile phones and email addresses. Pure functions; a bad value raises
`Invalid` naming the field, never echoing a personal value back."""

from __future__ import annotations

import re
from datetime import date
from functools import cache

from alliance_shared.errors import Invalid
from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, ValidationError

_PHONE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_uscc(value: str, *, field: str = "uscc") -> str:
    """The USCC in canonical form (upper case, no spaces); `Invalid` when it is malformed or its
    check character (GB 32100-2015) is wrong."""
    try:
        return str(uscc.validate(str(value).strip().upper()))
    except InvalidChecksum:
        raise Invalid("统一社会信用代码校验位错误 / USCC check character is wrong", field=field) from None
    except ValidationError:
        raise Invalid(
            "统一社会信用代码格式错误 / USCC must be 18 characters of GB 32100", field=field
        ) from None


def normalize_id_number(value: str, *, today: date, field: str = "id_number") -> str:
    """An 18-character resident ID number (GB 11643) in canonical form (upper-case X).

    Checked: length and format, an area code that is or was in the national division list (the
    place of household registration when the number was issued, so whatever the birth year — a
    member born in 1976 holds 福田 440304 although the district dates from 1990), a real birth date
    neither in the future nor before 1900, and the check digit. The refusal names the part that is
    wrong, Chinese first, and never echoes the number."""
    number = re.sub(r"\s", "", str(value)).upper()
    if len(number) != 18:
        raise Invalid(f"身份证号位数错误，应为 18 位 / ID number must be 18 characters (got {len(number)})",
                      field=field)
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise Invalid("身份证号格式错误：前 17 位须为数字，末位为数字或 X / ID number must be 17 digits "
                      "and a digit or X", field=field)
    if not _known_area(number[:6]):
        raise Invalid("身份证号地区码不存在 / ID number's area code is not a known division code",
                      field=field)
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        born = None
    if born is None or born > today or born.year < _EARLIEST_BIRTH_YEAR:
        raise Invalid("身份证号出生日期无效 / ID number's birth date is not a real date in the past",
                      field=field)
    if number[17] != ric.calc_check_digit(number):
        raise Invalid("身份证号校验码错误 / ID number check digit is wrong", field=field)
    return number


_EARLIEST_BIRTH_YEAR = 1900


@cache
def _known_area(code: str) -> bool:
    """Whether `code` is a county-level code of the division list at any time (current or
    historical: python-stdnum's list carries both, with the years each was in use)."""
    parts = numdb.get("cn/loc").info(code)
    return len(parts) == 2 and bool(parts[1][1].get("county"))


def normalize_phone(value: str, *, field: str = "phone") -> str:
    """A mainland mobile number, 11 digits starting 13–19; a +86 prefix and separators are dropped."""
    digits = re.sub(r"[\s\-]", "", str(value))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _PHONE.match(digits):
        raise Invalid(
            "手机号码格式错误 / phone must be a mainland mobile number (1[3-9] + 9 digits)", field=field
        )
    return digits


def normalize_email(value: str, *, field: str = "email") -> str:
    text = str(value).strip()
    if len(text) > 254 or not _EMAIL.match(text):
        raise Invalid("邮箱格式错误 / email address is malformed", field=field)
    return text.lower()
