"""Validation of the identifiers the registry holds: USCC (GB 32100), resident ID numbers
(GB 11643), mainland mobile phones and email addresses. Pure functions; a bad value raises
`Invalid` naming the field, never echoing a personal value back."""

from __future__ import annotations

import re

from alliance_shared.errors import Invalid
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


def normalize_id_number(value: str, *, field: str = "id_number") -> str:
    """An 18-character resident ID number (GB 11643) with a valid birth date and check digit."""
    try:
        return str(ric.validate(str(value).strip().upper()))
    except InvalidChecksum:
        raise Invalid("身份证号校验位错误 / ID number check digit is wrong", field=field) from None
    except ValidationError:
        raise Invalid("身份证号格式错误 / ID number must be 18 characters of GB 11643", field=field) from None


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
