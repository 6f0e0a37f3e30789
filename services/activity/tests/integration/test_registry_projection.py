"""The registry projection's batch write: a document's facts of a batch folded into one write,
new documents inserted together, known ones updated; a redelivered batch changes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from alliance_activity.adapters.projection import MEMBERS, RegistryProjection
from alliance_activity.domain.model import Posting

from .conftest import Platform

pytestmark = pytest.mark.integration


def registered(projection: RegistryProjection, member_id: str) -> None:
    projection.put_member(member_id, {"organization_id": "org-x", "institution_id": "inst-x", "status": "full",
                                      "left_at": None}, Posting("org-x", "inst-x", date(2020, 1, 1)))


def moved_and_left(projection: RegistryProjection, member_id: str) -> None:
    projection.put_member(member_id, {"organization_id": "org-y", "institution_id": "inst-y"},
                          Posting("org-y", "inst-y", date(2025, 3, 1)))
    projection.put_member(member_id, {"left_at": "2026-01-31"})


async def test_a_members_facts_of_one_batch_end_in_one_document_and_redelivery_changes_nothing(
    platform: Platform,
) -> None:
    projection = RegistryProjection(platform.runtime)
    for _ in range(2):  # the same batch delivered twice
        registered(projection, "pm-1")
        moved_and_left(projection, "pm-1")
        registered(projection, "pm-2")
        await projection.flush()
    docs = {d["_id"]: d for d in await platform.db[MEMBERS].find({"_id": {"$in": ["pm-1", "pm-2"]}}).to_list(None)}
    assert docs["pm-1"]["organization_id"] == "org-y"
    assert docs["pm-1"]["left_at"] == "2026-01-31"
    assert [p["organization_id"] for p in docs["pm-1"]["postings"]] == ["org-x", "org-y"]
    assert docs["pm-2"]["left_at"] is None and len(docs["pm-2"]["postings"]) == 1


async def test_facts_about_a_projected_member_update_it_in_a_later_batch(platform: Platform) -> None:
    projection = RegistryProjection(platform.runtime)
    registered(projection, "pm-3")
    await projection.flush()
    moved_and_left(projection, "pm-3")
    registered(projection, "pm-4")
    await projection.flush()
    doc = await platform.db[MEMBERS].find_one({"_id": "pm-3"})
    assert doc is not None
    assert (doc["organization_id"], doc["status"], doc["left_at"]) == ("org-y", "full", "2026-01-31")
    assert [p["since"] for p in doc["postings"]] == ["2020-01-01", "2025-03-01"]
    assert await platform.db[MEMBERS].count_documents({"_id": "pm-4"}) == 1
