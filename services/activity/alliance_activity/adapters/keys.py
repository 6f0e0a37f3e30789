"""The API keys activity checks (`X-Api-Key` and webhook signatures): the registry projection's,
held in memory at most `max_age_s`, a revocation applied the moment its event is read.

Why a revoked key is refused within a second (the promise of `DELETE …/api-keys/{key_id}`): the
registry stores the revocation with its `fpba.api_key.revoked.v1` event and wakes its outbox relay
at once; every activity process reads `registry.events.v1` with a listener of its own (a consumer
group per process, so each replica hears every revocation, not only the one holding the partition)
that does nothing but apply key events here, without a store write, so it is never behind the
projection's store writes. The bounded age is the backstop: a process that missed the event (its
listener restarting) re-reads the projection, which the shared projection consumer keeps, after at
most `max_age_s`. No request asks the registry."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

Doc = dict[str, Any]


class KeyReads(Protocol):
    """What the cache reads from the registry projection (`RegistryProjection`)."""

    async def api_key(self, key_id: str) -> Doc | None: ...

    async def live_keys_of(self, institution_id: str) -> list[Doc]: ...


class ApiKeys:
    def __init__(self, projection: KeyReads, max_age_s: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._projection = projection
        self._max_age = max_age_s
        self._now = monotonic
        self._keys: dict[str, tuple[float, Doc]] = {}  # key_id -> (read at, projection document)
        self._live: dict[str, tuple[float, list[Doc]]] = {}  # institution -> (read at, its live keys)
        self._revoked: set[str] = set()  # key ids heard revoked: never valid again, so kept
        # key_id -> (heard at, doc): a key heard issued, before the projection may have it; held
        # no longer than a cached read, so a revocation missed meanwhile is still bounded
        self._heard: dict[str, tuple[float, Doc]] = {}

    def _fresh(self, read_at: float) -> bool:
        return self._now() - read_at < self._max_age

    async def key(self, key_id: str) -> Doc | None:
        """The key's projection document, or None when it is unknown or revoked."""
        if key_id in self._revoked:
            return None
        heard = self._heard.get(key_id)
        if heard is not None and self._fresh(heard[0]):
            return heard[1]
        cached = self._keys.get(key_id)
        if cached is not None and self._fresh(cached[0]):
            doc = cached[1]
        else:
            read_at = self._now()
            found = await self._projection.api_key(key_id)
            if found is None:
                return None  # not cached: a key just issued works as soon as the projection has it
            doc = found
            self._keys[key_id] = (read_at, doc)
        if key_id in self._revoked or doc.get("revoked_at") is not None:
            return None
        return doc

    async def live_keys_of(self, institution_id: str) -> list[Doc]:
        """The institution's keys not revoked (the webhook tries each one's signature)."""
        cached = self._live.get(institution_id)
        if cached is not None and self._fresh(cached[0]):
            docs = cached[1]
        else:
            read_at = self._now()
            docs = await self._projection.live_keys_of(institution_id)
            self._live[institution_id] = (read_at, docs)
        heard = {k: d for k, (at, d) in self._heard.items()
                 if d["institution_id"] == institution_id and self._fresh(at)}
        docs = [*(d for d in docs if d["_id"] not in heard), *heard.values()]
        return [d for d in docs if d["_id"] not in self._revoked]

    def revoked(self, key_id: str) -> None:
        """A revocation was read: refused from now on, by this process, whatever is cached."""
        self._revoked.add(key_id)
        self._keys.pop(key_id, None)
        self._heard.pop(key_id, None)

    def issued(self, doc: Doc) -> None:
        """A new key was read (`doc` as the projection will hold it): it works from now on."""
        if doc["_id"] not in self._revoked:
            self._heard = {k: v for k, v in self._heard.items() if self._fresh(v[0])}
            self._heard[doc["_id"]] = (self._now(), doc)
