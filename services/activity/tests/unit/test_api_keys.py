"""The key cache: a revocation heard is refused at once whatever is cached, a key heard issued
works before the projection has it, and a revocation the process never heard is refused once the
cached read is older than its bound."""

from __future__ import annotations

from typing import Any

import pytest
from alliance_activity.adapters.keys import ApiKeys

pytestmark = pytest.mark.unit
MAX_AGE_S = 5.0


class FakeProjection:
    """The registry projection's key documents, counting reads."""

    def __init__(self, *docs: dict[str, Any]) -> None:
        self.docs = {d["_id"]: d for d in docs}
        self.reads = 0

    async def api_key(self, key_id: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.docs.get(key_id)

    async def live_keys_of(self, institution_id: str) -> list[dict[str, Any]]:
        self.reads += 1
        return [d for d in self.docs.values() if d["institution_id"] == institution_id and d["revoked_at"] is None]


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def key(key_id: str, institution_id: str = "inst-a", revoked_at: Any = None) -> dict[str, Any]:
    return {"_id": key_id, "institution_id": institution_id, "key_hash": f"h-{key_id}", "sealed_key": "s",
            "revoked_at": revoked_at}


def cache(*docs: dict[str, Any]) -> tuple[ApiKeys, FakeProjection, Monotonic]:
    projection, clock = FakeProjection(*docs), Monotonic()
    return ApiKeys(projection, MAX_AGE_S, clock), projection, clock


async def test_a_cached_key_is_not_read_again_within_its_age() -> None:
    keys, projection, clock = cache(key("k1"))
    assert (await keys.key("k1"))["_id"] == "k1"  # type: ignore[index]
    clock.now += MAX_AGE_S - 0.1
    assert await keys.key("k1") is not None
    assert projection.reads == 1


async def test_a_revocation_heard_is_refused_at_once_though_the_key_is_cached_and_the_projection_lags() -> None:
    keys, _projection, _clock = cache(key("k1"))
    assert await keys.key("k1") is not None
    assert [d["_id"] for d in await keys.live_keys_of("inst-a")] == ["k1"]
    keys.revoked("k1")
    assert await keys.key("k1") is None
    assert await keys.live_keys_of("inst-a") == []


async def test_a_revocation_never_heard_is_refused_once_the_cached_read_is_older_than_its_bound() -> None:
    keys, projection, clock = cache(key("k1"))
    assert await keys.key("k1") is not None
    assert await keys.live_keys_of("inst-a")
    projection.docs["k1"] = key("k1", revoked_at="2026-10-20T02:00:00Z")  # another replica's consumer wrote it
    clock.now += MAX_AGE_S
    assert await keys.key("k1") is None
    assert await keys.live_keys_of("inst-a") == []


async def test_a_key_heard_issued_works_before_the_projection_has_it_and_is_then_bounded_like_any_other() -> None:
    keys, projection, clock = cache()
    assert await keys.live_keys_of("inst-a") == []  # cached: no keys yet
    keys.issued(key("k2"))
    assert await keys.key("k2") is not None
    assert [d["_id"] for d in await keys.live_keys_of("inst-a")] == ["k2"]
    assert await keys.live_keys_of("inst-b") == []
    # the projection has it revoked, a revocation this process missed: bounded by the same age
    projection.docs["k2"] = key("k2", revoked_at="2026-10-20T02:00:00Z")
    clock.now += MAX_AGE_S
    assert await keys.key("k2") is None
    assert await keys.live_keys_of("inst-a") == []


async def test_an_unknown_key_is_not_remembered_as_unknown() -> None:
    keys, projection, _clock = cache()
    assert await keys.key("k3") is None
    projection.docs["k3"] = key("k3")
    assert await keys.key("k3") is not None


async def test_a_key_revoked_then_heard_issued_again_stays_revoked() -> None:
    keys, _projection, _clock = cache(key("k1"))
    keys.revoked("k1")
    keys.issued(key("k1"))  # a redelivered older event
    assert await keys.key("k1") is None
