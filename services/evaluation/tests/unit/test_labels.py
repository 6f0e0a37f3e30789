"""Every status the other services can report has a label in both languages on the dashboard and
a Chinese one in the exports (a status shown as its code is a string the secretariat cannot paste
into a report)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from alliance_evaluation.entrypoints.dashboard import exports
from alliance_shared.contracts.notification import DeliveryStatus

pytestmark = pytest.mark.unit

I18N = Path(exports.__file__).parent / "static" / "i18n.js"


def labels(language: str) -> dict[str, str]:
    text = I18N.read_text(encoding="utf-8")
    block = text[text.index(f"{language}: {{") :]
    block = block[: block.index("\n  }")]
    return dict(re.findall(r'(\w+): "([^"]*)"', block))


@pytest.mark.parametrize("status", typing.get_args(DeliveryStatus))
def test_every_delivery_status_has_a_label(status: str):
    zh, en = labels("zh"), labels("en")
    assert zh.get(status) and en.get(status), f"no dashboard label for {status}"
    assert re.search(r"[\u4e00-\u9fff]", zh[status]) and zh[status] != en[status]
    assert re.search(r"[\u4e00-\u9fff]", exports.DELIVERY_ZH.get(status, "")), f"no export label for {status}"
