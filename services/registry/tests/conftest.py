"""Small factories shared by the registry's tests: valid identifiers on demand."""

from __future__ import annotations

import itertools
import random

import pytest
from stdnum.cn import ric, uscc


class Make:
    """Valid USCCs, ID numbers and phones, different every call."""

    def __init__(self) -> None:
        self._seq = itertools.count(random.randint(0, 10_000_000))

    def uscc(self) -> str:
        body = f"91440300MA{next(self._seq) % 10_000_000:07d}"
        return body + uscc.calc_check_digit(body + "0")

    def id_number(self, birth: str = "19850315") -> str:
        body = f"440304{birth}{next(self._seq) % 1000:03d}"
        return body + ric.calc_check_digit(body + "0")

    def phone(self) -> str:
        return f"138{next(self._seq) % 100_000_000:08d}"

    @staticmethod
    def wrong_check(value: str) -> str:
        """The same identifier with a wrong last character."""
        return value[:-1] + ("1" if value[-1] != "1" else "2")


@pytest.fixture
def make() -> Make:
    return Make()
