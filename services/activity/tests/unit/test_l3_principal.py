"""L3 tenancy: a record on activity.ingest.v1 is ingested as its `ce_institutionid` only when an API
key of that institution signed it; a missing principal, an unknown or revoked key, a signature that
does not match the record and another institution's key are each refused with their reason (issue
17 defect 10)."""

from __future__ import annotations

from typing import Any

import pytest
from alliance_activity.adapters.keys import ApiKeys
from alliance_activity.entrypoints.streaming import L3_REFUSED, L3Principals, StreamIngest
from alliance_activity.settings import ActivitySettings
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.kafka.consumer import ConsumedMessage, PermanentError
from alliance_shared.kafka.principal import SIGNATURE_HEADER, PrincipalRefused, Refusal, signed
from alliance_shared.kafka.producer import Outgoing
from alliance_shared.pii import PiiVault
from alliance_shared.settings import DEV_PII_KEY

from .test_stream_ingest import Ingest

pytestmark = pytest.mark.unit
VAULT = PiiVault(DEV_PII_KEY)
KEYS = {"key-a": ("inst-a", "ak_secret_of_a"), "key-b": ("inst-b", "ak_secret_of_b"),
        "key-old": ("inst-a", "ak_revoked_of_a")}


class FakeProjection:
    """The registry projection's key documents (sealed as registry publishes them)."""

    def __init__(self) -> None:
        self.docs = {key_id: {"_id": key_id, "institution_id": inst, "sealed_key": VAULT.seal(secret),
                              "revoked_at": "2026-11-01T00:00:00Z" if key_id == "key-old" else None}
                     for key_id, (inst, secret) in KEYS.items()}

    async def api_key(self, key_id: str) -> dict[str, Any] | None:
        return self.docs.get(key_id)

    async def live_keys_of(self, institution_id: str) -> list[dict[str, Any]]:
        return [d for d in self.docs.values() if d["institution_id"] == institution_id and not d["revoked_at"]]


def record(claimed: str, signed_with: str | None, *, event_id: str = "ev-1",
           tamper: bool = False) -> tuple[CloudEvent, ConsumedMessage]:
    """A record claiming institution `claimed`, signed with key `signed_with` (None: unsigned), as
    the consumer receives it; `tamper` changes the value after signing."""
    event = CloudEvent.from_structured({
        "specversion": "1.0", "id": event_id, "source": "/oa/party", "type": "fpba.meeting.held.v1",
        "datacontenttype": "application/json", "data": {"organization_id": "org-a"}, "institutionid": claimed})
    item = Outgoing("activity.ingest.v1", event, "org-a")
    if signed_with is not None:
        item = signed(item, signed_with, KEYS[signed_with][1])
    headers = (*event.to_kafka_headers(), *item.headers)
    value = event.kafka_value().replace(b"org-a", b"org-x") if tamper else event.kafka_value()
    return CloudEvent.from_kafka(headers, value), ConsumedMessage("activity.ingest.v1", 0, 7, b"org-a", headers, 0,
                                                                  value)


def principals() -> L3Principals:
    return L3Principals(ApiKeys(FakeProjection(), max_age_s=5.0), VAULT)


def refused_count(reason: Refusal) -> float:
    return L3_REFUSED.labels(reason.value)._value.get()  # type: ignore[attr-defined, no-any-return]


async def test_a_record_signed_with_its_own_institutions_key_has_that_principal() -> None:
    assert await principals().principal(*record("inst-a", "key-a")) == ("inst-a", "key-a")


@pytest.mark.parametrize(
    ("claimed", "key", "tamper", "reason"),
    [
        ("inst-a", "key-b", False, Refusal.MISMATCH),  # B's own valid signature, claiming A
        ("inst-a", None, False, Refusal.NO_PRINCIPAL),
        ("inst-a", "key-old", False, Refusal.UNKNOWN_KEY),  # revoked
        ("inst-a", "key-a", True, Refusal.BAD_SIGNATURE),  # the value changed after signing
    ],
)
async def test_a_record_whose_producer_is_not_its_institution_is_refused_with_the_reason(
    claimed: str, key: str | None, tamper: bool, reason: Refusal
) -> None:
    before = refused_count(reason)
    with pytest.raises(PrincipalRefused) as refused:
        await principals().principal(*record(claimed, key, tamper=tamper))
    assert refused.value.reason is reason
    assert isinstance(refused.value, PermanentError)  # the runner dead-letters it at once, with the message
    assert refused_count(reason) == before + 1


async def test_a_key_unknown_to_the_registry_and_a_forged_signature_are_refused() -> None:
    event, message = record("inst-a", "key-a")
    forged = tuple((n, b"sha256=" + b"0" * 64) if n == SIGNATURE_HEADER else (n, v) for n, v in message.headers)
    with pytest.raises(PrincipalRefused) as refused:
        await principals().principal(event, ConsumedMessage(message.topic, 0, 7, None, forged, 0, message.value))
    assert refused.value.reason is Refusal.BAD_SIGNATURE
    unknown = tuple((n, b"key-nobody") if n == "alliance_keyid" else (n, v) for n, v in message.headers)
    with pytest.raises(PrincipalRefused) as refused:
        await principals().principal(event, ConsumedMessage(message.topic, 0, 7, None, unknown, 0, message.value))
    assert refused.value.reason is Refusal.UNKNOWN_KEY


async def test_the_stream_ingests_a_proven_record_as_its_key_and_refuses_another_institutions() -> None:
    ingest = Ingest()
    ingest.fail_once = False
    stream = StreamIngest(ingest, principals())  # type: ignore[arg-type]
    await stream(*record("inst-a", "key-a", event_id="ev-a"))
    with pytest.raises(PrincipalRefused):
        await stream(*record("inst-a", "key-b", event_id="ev-b-as-a"))
    await stream.end_batch()
    assert ingest.passes == [[("inst-a", ["ev-a"])]]


def test_the_check_is_on_outside_development_unless_turned_off() -> None:
    assert ActivitySettings(environment="test").principal_check_enabled
    assert not ActivitySettings(environment="development").principal_check_enabled
    assert ActivitySettings(environment="development", l3_principal_check=True).principal_check_enabled
    assert not ActivitySettings(environment="test", l3_principal_check=False).principal_check_enabled
