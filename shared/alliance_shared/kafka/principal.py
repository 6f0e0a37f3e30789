"""Who produced an L3 record on `activity.ingest.v1`, proven per record.

The broker authenticates each institution's producer (a Strimzi `KafkaUser` allowed to write the
ingest topic only, deploy/gen.py) but cannot stamp that principal on the records it accepts, and a
consumer never learns who wrote a record. So the institution signs each record with the API key
registry issued to it, as it signs a webhook call: header `alliance_keyid` names the key, and
`alliance_signature` is ``sha256=<hex>`` of HMAC-SHA256 keyed with the key over

    ce_id "\\n" ce_type "\\n" ce_institutionid "\\n" <the record's value, as sent>

The consumer looks the key up (revoked keys are refused within a second, like the API's) and
requires the key's institution to be `ce_institutionid`. A record without a signature, with an
unknown or revoked key, a wrong signature or another institution's key is refused: a
`PrincipalRefused`, which the consumer runner dead-letters with its reason."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from enum import StrEnum

from ..contracts.envelope import CloudEvent
from .consumer import PermanentError
from .producer import Outgoing

KEY_ID_HEADER = "alliance_keyid"
SIGNATURE_HEADER = "alliance_signature"


class Refusal(StrEnum):
    """Why a record's principal was refused (the `reason` label of the refusal metric)."""

    NO_PRINCIPAL = "no_principal"  # no key id or no signature header
    UNKNOWN_KEY = "unknown_key"  # no such key, or revoked
    BAD_SIGNATURE = "bad_signature"  # the signature is not the key's over this record
    MISMATCH = "principal_mismatch"  # a valid signature, by another institution's key


_MESSAGES = {
    Refusal.NO_PRINCIPAL: "缺少签名消息头 alliance_keyid / alliance_signature，无法确认上报机构 / "
                          "no alliance_keyid and alliance_signature headers: the producing institution is unknown",
    Refusal.UNKNOWN_KEY: "签名所用的密钥不存在或已吊销 / the signing key is unknown or revoked",
    Refusal.BAD_SIGNATURE: "签名与消息内容不符 / the signature does not match the record",
    Refusal.MISMATCH: "签名机构与 ce_institutionid 不一致 / the signing institution is not ce_institutionid",
}


class PrincipalRefused(PermanentError):
    """A record whose producer is not proven to be its `ce_institutionid` (dead-lettered at once)."""

    def __init__(self, reason: Refusal, detail: str = "") -> None:
        self.reason = reason
        super().__init__(_MESSAGES[reason] + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class Claim:
    """What a record says about its producer: the key it was signed with and the signature."""

    key_id: str
    signature: str


def record_signature(api_key: str, event_id: str, event_type: str, institution_id: str, value: bytes) -> str:
    """``sha256=<hex>`` of the record, keyed with the institution's API key."""
    signed = "\n".join((event_id, event_type, institution_id)).encode() + b"\n" + value
    return "sha256=" + hmac.new(api_key.encode(), signed, hashlib.sha256).hexdigest()


def signed(item: Outgoing, key_id: str, api_key: str) -> Outgoing:
    """`item` with the principal headers of its institution's key (what an institution's producer
    adds to each record; the event must carry `institutionid`)."""
    event = item.event
    if not event.institutionid:
        raise ValueError("an L3 record names its institution (ce_institutionid)")
    signature = record_signature(api_key, event.id, event.type, event.institutionid, event.kafka_value())
    return replace(item, headers=(*item.headers, (KEY_ID_HEADER, key_id.encode()),
                                  (SIGNATURE_HEADER, signature.encode())))


def claim_of(headers: tuple[tuple[str, bytes], ...]) -> Claim:
    """The record's key id and signature; `PrincipalRefused` when either is missing."""
    found = {name: value for name, value in headers if name in (KEY_ID_HEADER, SIGNATURE_HEADER)}
    key_id, signature = found.get(KEY_ID_HEADER), found.get(SIGNATURE_HEADER)
    if not key_id or not signature:
        raise PrincipalRefused(Refusal.NO_PRINCIPAL)
    return Claim(bytes(key_id).decode(errors="replace"), bytes(signature).decode(errors="replace"))


def verify(event: CloudEvent, value: bytes | None, claim: Claim, key_institution_id: str, api_key: str) -> str:
    """The principal (the key's institution) when `claim` proves the record is that institution's
    and it is the record's `ce_institutionid`; else `PrincipalRefused`. The signature is checked
    first: a mismatch is only reported for a record the other institution really signed."""
    expected = record_signature(api_key, event.id, event.type, event.institutionid or "", value or b"")
    if not hmac.compare_digest(expected, claim.signature):
        raise PrincipalRefused(Refusal.BAD_SIGNATURE, f"key {claim.key_id}")
    if key_institution_id != event.institutionid:
        raise PrincipalRefused(Refusal.MISMATCH, f"key {claim.key_id} of {key_institution_id}, "
                                                 f"ce_institutionid {event.institutionid or '(none)'}")
    return key_institution_id
