"""A small client of the platform's public APIs for the end-to-end tests: who is calling (tokens
minted from the dev secret, API keys), CloudEvents as institutions write them, and waiting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from alliance_shared.auth import mint_token
from alliance_shared.clock import SHANGHAI, quarter_of
from alliance_shared.settings import DEV_JWT_SECRET


@dataclass
class Platform:
    urls: dict[str, str]
    infra: Any
    topic_prefix: str

    def client(self, service: str, *, token: str | None = None, api_key: str | None = None) -> httpx.AsyncClient:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if api_key:
            headers["X-Api-Key"] = api_key
        return httpx.AsyncClient(base_url=self.urls[service], headers=headers, timeout=30)


def token(role: str, *, institution_id: str | None = None, organization_id: str | None = None) -> str:
    return mint_token(DEV_JWT_SECRET, role=role, subject=f"e2e-{role}", institution_id=institution_id,
                      organization_id=organization_id)


def now() -> datetime:
    return datetime.now(UTC)


def days_ago(days: float) -> datetime:
    """A moment in the past, in Beijing time as institutions write it (the tests' only clock)."""
    return (now() - timedelta(days=days)).astimezone(SHANGHAI).replace(microsecond=0)


def current_period() -> str:
    return quarter_of(now())


def event(kind: str, data: dict[str, Any], *, source: str, event_id: str | None = None) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id or f"e2e-{uuid.uuid4().hex[:16]}", "source": source,
            "type": f"fpba.{kind}.v1", "time": now().isoformat(), "datacontenttype": "application/json",
            "data": data}


def meeting(org_id: str, kind: str, held_at: datetime, attendees: list[str], *, source: str,
            event_id: str | None = None) -> dict[str, Any]:
    return event("meeting.held", {"organization_id": org_id, "meeting_kind": kind, "held_at": held_at.isoformat(),
                                  "attendee_ids": attendees, "expected_count": len(attendees),
                                  "topic": "学习贯彻党的二十大精神"}, source=source, event_id=event_id)


def expect(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, f"{answer.request.method} {answer.request.url}: {answer.status_code} " \
                                         f"{answer.text[:800]}"
    return answer.json() if answer.content else None
