"""Random ids drawn from a pool: version 4, never repeated, across threads and a fork."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from alliance_shared import ids

pytestmark = pytest.mark.unit


def test_an_id_is_a_version_4_uuid_with_the_rfc_variant() -> None:
    found = [ids.uuid4() for _ in range(1_000)]
    assert {u.version for u in found} == {4}
    assert {u.variant for u in found} == {uuid.RFC_4122}
    assert len(set(found)) == 1_000


def test_threads_drawing_at_once_never_share_an_id() -> None:
    drawn: list[list[uuid.UUID]] = [[] for _ in range(4)]

    def draw(into: list[uuid.UUID]) -> None:
        into.extend(ids.uuid4() for _ in range(5_000))  # many refills of the 256-id pool each

    threads = [threading.Thread(target=draw, args=(d,)) for d in drawn]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [u for d in drawn for u in d]
    assert len(every) == 20_000
    assert len(set(every)) == 20_000


def test_a_forked_child_does_not_reuse_the_ids_its_parent_has_in_its_pool() -> None:
    ids.uuid4()  # the pool now holds ids this process has not handed out
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only writes and exits
        os.close(read)
        os.write(write, b"".join(ids.uuid4().bytes for _ in range(50)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        raw = pipe.read()
    os.waitpid(child, 0)
    in_child = {uuid.UUID(bytes=raw[k : k + 16]) for k in range(0, len(raw), 16)}
    in_parent = {ids.uuid4() for _ in range(50)}
    assert len(in_child) == 50
    assert not in_child & in_parent
