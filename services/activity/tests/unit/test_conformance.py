"""The webhook's dry run, its credential checks over in-memory keys: the timestamp against the
platform's clock, the signature against the institution's live keys — and never the expected
signature in the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alliance_activity.adapters.keys import ApiKeys
from alliance_activity.settings import ActivitySettings
from alliance_activity.usecases import conformance
from alliance_activity.usecases.unit import ActivityUnit
from alliance_shared.auth import webhook_signature
from alliance_shared.pii import PiiVault

from .fakes import FakeKeyReads

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
KEY = "fpba_live_0123456789abcdef"
BODY = b'{"specversion": "1.0"}'


def unit() -> ActivityUnit:
    settings = ActivitySettings(environment="test")
    sealed = PiiVault(settings.pii_encryption_key).seal(KEY)
    reads = FakeKeyReads({"_id": "k-1", "institution_id": "inst-a", "sealed_key": sealed, "revoked_at": None})
    return ActivityUnit(settings, None, None, None, ApiKeys(reads, max_age_s=5.0))  # type: ignore[arg-type]


def checks(run: conformance.ConformanceRun) -> dict[str, bool]:
    return {c["check"]: c["ok"] for c in run.checks}


async def test_a_call_signed_with_a_live_key_inside_the_window_passes_and_names_the_key() -> None:
    ts = str(int(NOW.timestamp()) - 20)
    signature = webhook_signature(KEY, ts, BODY)
    run, key_id = await conformance.webhook_credentials(unit(), "inst-a", BODY, ts, signature, NOW)
    assert (checks(run), key_id, run.passed) == ({"timestamp": True, "signature": True}, "k-1", True)
    assert run.checks[0]["skew_s"] == 20


async def test_a_stale_call_and_a_foreign_signature_fail_without_telling_the_expected_signature() -> None:
    ts = str(int((NOW - timedelta(seconds=301)).timestamp()))
    signature = webhook_signature("another institution's key", ts, BODY)
    run, key_id = await conformance.webhook_credentials(unit(), "inst-a", BODY, ts, signature, NOW)
    assert (checks(run), key_id) == ({"timestamp": False, "signature": False}, None)
    sig = run.checks[1]
    assert sig["detail"] == conformance.NO_KEY_MATCHES and sig["body_bytes"] == len(BODY)
    assert webhook_signature(KEY, ts, BODY) not in str(run.checks)


async def test_a_signature_of_the_wrong_shape_is_named_by_its_header() -> None:
    run, _ = await conformance.webhook_credentials(unit(), "inst-a", BODY, "not-a-number", "md5=abc", NOW)
    assert [(c["check"], c["ok"], c["field"]) for c in run.checks] == [
        ("timestamp", False, "X-Timestamp"), ("signature", False, "X-Signature")
    ]
