"""Writing score cards into the read models: one document per scored object and period (what
drill-downs read), a computation record per change (what "why did it change" compares), a
`ScoreComputed` event in the document's outbox when a score really changed, and the chunk's rank
rows (what the overview, rankings and heat map read; see `ranks`)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.evaluation import ScoreComputed
from alliance_shared.ids import uuid4

from ..domain.facts import PeriodFacts
from ..domain.periods import Period
from ..domain.plausibility import duplicate_meetings
from ..domain.results import ScoreCard
from ..domain.rounding import rounded
from ..domain.scoring import PeriodScores, classification_for
from . import ranks
from .readmodels import ReadModels, score_key

SOURCE = "/services/evaluation"
ANNOUNCED_GRADES = ("excellent", "good", "pass", "fail")


def _event(card: ScoreCard, computation_id: str, at: datetime) -> Any:
    d = card.as_dict()
    payload = ScoreComputed(
        period=card.period,
        object_type=card.object_type,
        object_id=card.object_id,
        institution_id=card.institution_id,
        organization_id=card.object_id if card.object_type == "branch" else None,
        score=d["score"],
        grade=card.grade,
        vetoed=card.vetoed,
        ruleset=card.ruleset,
        computation_id=computation_id,
        computed_at=at,
    )
    return payload, envelope(payload, source=SOURCE, institutionid=card.institution_id)


async def store_scores(
    models: ReadModels, result: PeriodScores, facts: PeriodFacts, at: datetime, trigger: str
) -> tuple[int, list[dict[str, Any]]]:
    """Persist what changed; returns how many cards changed and the chunk's rank documents (what
    the quarter's overview is patched with). The documents are built in a thread (a chunk's
    events and bodies are most of a write's CPU), written from the event loop."""
    cards = [*result.branches, *result.institutions]
    previous = await models.digests([score_key(c.period, c.object_type, c.object_id) for c in cards])
    batch, rank_docs = await asyncio.to_thread(_documents, result, facts, previous, at, trigger)
    await asyncio.gather(
        models.save_batch([c for c, _, _ in batch], [(d, e) for _, d, e in batch], previous),
        models.save_ranks(rank_docs),
    )
    return len(batch), rank_docs


def _branch_fields(card: ScoreCard, facts: PeriodFacts, period: Period) -> dict[str, Any]:
    """What a branch's score document says besides its card: what the rankings and drill-downs show."""
    branch = facts.branches[card.object_id]
    return {
        "name": branch.name,
        "kind": branch.kind,
        "opened": branch.opened.isoformat(),
        "closed": branch.closed.isoformat() if branch.closed else None,
        "institution_ids": list(branch.institution_ids),
        "org_life": _value(card, "org_life"),
        "sector": classification_for(facts.institutions.get(card.institution_id), period).sector,
    }


def _institution_fields(card: ScoreCard, facts: PeriodFacts, period: Period) -> dict[str, Any]:
    """What an institution's score document says besides its card: its branches and its coverage."""
    inst = facts.institutions.get(card.object_id)
    found = card.indicator("coverage")
    coverage = dict(found.details) if found is not None else {}
    kinds = [facts.branches[b.object_id].kind for b in card.branches]
    return {
        "name": inst.name if inst else card.object_id,
        "institution_ids": [card.object_id],
        "sector": classification_for(inst, period).sector,
        "branches": [
            {
                "organization_id": b.object_id,
                "name": facts.branches[b.object_id].name,
                "score": rounded(b.score),
                "grade": b.grade,
                "member_days": b.member_days,
            }
            for b in card.branches
        ],
        "branch_count": sum(1 for k in kinds if k != "joint_branch"),
        "joint_branch_count": sum(1 for k in kinds if k == "joint_branch"),
        "coverage": {
            "members": coverage.get("members", 0),
            "pocket_members": coverage.get("pocket_members", 0),
        },
    }


def _documents(
    result: PeriodScores, facts: PeriodFacts, previous: dict[str, Any], at: datetime, trigger: str
) -> tuple[list[tuple[dict[str, Any], dict[str, Any], list[Any]]], list[dict[str, Any]]]:
    """The changed cards' computation and score documents with their events, and the chunk's rank rows."""
    period = Period.parse(result.period)
    batch: list[tuple[dict[str, Any], dict[str, Any], list[Any]]] = []
    docs: dict[str, dict[str, Any]] = {}  # every card's score document, changed or not
    for card in result.branches:
        _store(batch, docs, card, previous, at, trigger, _branch_fields(card, facts, period))
    for card in result.institutions:
        _store(batch, docs, card, previous, at, trigger, _institution_fields(card, facts, period))
    rank_docs = ranks.institution_documents(
        result.period,
        [docs[_key(c)] for c in result.institutions],
        [docs[_key(c)] for c in result.branches],
        meeting_days(facts),
    )
    return batch, rank_docs


def _key(card: ScoreCard) -> str:
    return score_key(card.period, card.object_type, card.object_id)


def meeting_days(facts: PeriodFacts) -> dict[str, list[str]]:
    """Organisation id → the days of its meetings in the period (what the heat map counts); a
    meeting reported twice is one meeting held."""
    out: dict[str, list[str]] = {}
    repeated = duplicate_meetings(facts.meetings)
    for m in facts.meetings:
        if m.event_id not in repeated:
            out.setdefault(m.organization_id, []).append(m.held_on.isoformat())
    return out


def _value(card: ScoreCard, name: str) -> float | None:
    r = card.indicator(name)
    return None if r is None or r.value is None else rounded(r.value * 100)


def _store(
    batch: list[tuple[dict[str, Any], dict[str, Any], list[Any]]],
    docs: dict[str, dict[str, Any]],
    card: ScoreCard,
    previous: dict[str, Any],
    at: datetime,
    trigger: str,
    extra: dict[str, Any],
) -> int:
    """Queue the card's computation and score documents when its result changed."""
    key = _key(card)
    digest = card.digest()
    before = previous.get(key)
    if before is not None and before.get("digest") == digest:
        docs[key] = {**card.as_dict(), **extra}
        return 0
    computation_id = f"c-{uuid4().hex[:16]}"
    seq = int(before.get("seq", 0)) + 1 if before else 1  # order of computations, whatever the clock says
    rendered = card.as_dict()
    body = dict(rendered)
    if card.object_type == "institution":
        body["branches"] = [b.as_dict() for b in card.branches]
    computation = {
        "_id": computation_id,
        "period": card.period,
        "object_type": card.object_type,
        "object_id": card.object_id,
        "ruleset": card.ruleset,
        "digest": digest,
        "score": body["score"],
        "grade": card.grade,
        "computed_at": at,
        "seq": seq,
        "trigger": trigger,
        "previous": before.get("computation_id") if before else None,
        "card": body,
    }
    score = {
        "_id": key,
        **rendered,
        **extra,
        "digest": digest,
        "computation_id": computation_id,
        "computed_at": at,
        "seq": seq,
    }
    docs[key] = score
    # ScoreComputed's grade is one of the four grades: a 待评 card is stored and shown, not announced
    events = [_event(card, computation_id, at)] if card.grade in ANNOUNCED_GRADES else []
    batch.append((computation, score, events))
    return 1
