"""What the routers share: the service's handlers, who the caller is as a reporter, and the answer
shapes of an ingestion."""

from __future__ import annotations

from typing import Annotated, Any

from alliance_shared.auth import Principal, api_key_matches, key_id_of
from fastapi import Depends, Request

from ..adapters.keys import ApiKeys
from ..usecases.ingestion import IngestReport
from ..usecases.unit import ActivityUnit


def activity_of(request: Request) -> ActivityUnit:
    service: ActivityUnit = request.app.state.activity
    return service


ActivityDep = Annotated[ActivityUnit, Depends(activity_of)]


def api_key_resolver(keys: ApiKeys) -> Any:
    """X-Api-Key → the institution's machine principal, from the key cache over the registry projection."""

    async def resolve(api_key: str) -> Principal | None:
        key_id = key_id_of(api_key)
        if key_id is None:
            return None
        doc = await keys.key(key_id)
        if doc is None or not api_key_matches(api_key, doc["key_hash"]):
            return None
        return Principal(subject=f"key:{key_id}", role=None, institution_id=doc["institution_id"], key_id=key_id)

    return resolve


def event_answer(report: IngestReport) -> dict[str, Any]:
    return {
        **({"batch_id": report.batch_id} if report.batch_id else {}),  # the sandbox stores no batch
        "accepted": len(report.accepted),
        "duplicates": len(report.duplicates),
        "rejected": [
            {
                "id": r.event_id or r.label,
                "reason": r.reason_text,
                "reasons": [x.model_dump() for x in r.reasons],
            }
            for r in report.rejected
        ],
        "flagged": [{"id": a.event.id, "flags": a.flags} for a in report.accepted if a.flags],
    }


def row_answer(report: IngestReport) -> dict[str, Any]:
    return {
        "accepted": len(report.accepted),
        "duplicates": len(report.duplicates),
        "rejected": [
            {
                "row": r.row,
                "id": r.event_id,
                "reason": r.reason_text,
                "reasons": [x.model_dump() for x in r.reasons],
            }
            for r in report.rejected
        ],
        "flagged": [
            {"row": a.row, "id": a.event.id, "flags": a.flags} for a in report.accepted if a.flags
        ],
    }
