"""Made-up but valid Chinese identifiers for the demo and the end-to-end tests: Unified Social
Credit Codes (GB 32100-2015, with the embedded organisation code of GB 11714) and resident ID
numbers (GB 11643). The check characters are computed here, and python-stdnum confirms them."""

from __future__ import annotations

import random
from datetime import date, timedelta
from functools import lru_cache

from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidComponent

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_RIC_WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))

# Shenzhen's districts (福田, 罗湖, 南山, 宝安, 龙岗) for USCCs; birth places of members. An ID number
# names the place code valid in the birth year (Shenzhen's districts are younger than some members),
# so a place stdnum does not know for that year is swapped for one it does.
SHENZHEN_DISTRICTS = ("440304", "440303", "440305", "440306", "440307")
BIRTH_PLACES = ("440304", "440303", "440305", "430102", "420106", "360102", "440106", "450103", "610113", "350203")
_ALWAYS_VALID_PLACES = ("440300", "110105", "310104")


def organization_code_check(body: str) -> str:
    """GB 11714: the ninth character of an organisation code."""
    total = sum(_ORG_ALPHABET.index(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_check(first17: str) -> str:
    """GB 32100: the eighteenth character of a USCC."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc(rng: random.Random, district: str = "440300") -> str:
    """A valid USCC of an enterprise (registration authority 9, category 1) registered in `district`."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    org_code = body + organization_code_check(body)
    first17 = "91" + district + org_code
    code = first17 + uscc_check(first17)
    return str(uscc.validate(code))


def ric_check(first17: str) -> str:
    """GB 11643: the check character of a resident ID number."""
    check = (12 - sum(int(c) * w for c, w in zip(first17, _RIC_WEIGHTS, strict=True)) % 11) % 11
    return "X" if check == 10 else str(check)


@lru_cache(maxsize=4096)
def _place_valid(place: str, year: int) -> bool:
    """Whether stdnum accepts `place` as the birth place of someone born in `year` (it is the only part
    of a number built here that can be wrong; asking once per place and year instead of per number
    made 20,000 members' ID numbers 6 s faster)."""
    first17 = f"{place}{year:04d}0101001"
    try:
        ric.validate(first17 + ric_check(first17))
    except InvalidComponent:
        return False
    return True


def make_id_number(rng: random.Random, birth: date, *, female: bool) -> str:
    """A valid 18-character resident ID number for someone born on `birth`."""
    sequence = rng.randrange(0, 500) * 2 + (0 if female else 1)  # odd for men, even for women
    for place in (rng.choice(BIRTH_PLACES), *_ALWAYS_VALID_PLACES):
        if _place_valid(place, birth.year):
            first17 = f"{place}{birth:%Y%m%d}{sequence:03d}"
            return first17 + ric_check(first17)
    raise ValueError(f"no valid birth place for {birth}")


def birth_date(rng: random.Random, youngest: int = 22, oldest: int = 60, today: date | None = None) -> date:
    today = today or date.today()
    return today - timedelta(days=rng.randrange(youngest * 365, oldest * 365))
