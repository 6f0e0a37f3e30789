"""Members' names for the L1 form's roll, read from the registry's API with the signed-in person's
own token. Names are personal data and do not travel on registry events (ids and status only), so
activity's projection cannot hold them; everything else the form shows comes from the projection.
This is a read for a page, never on the ingestion path, and the registry authorises it exactly as
it would for the secretary themselves (their branch, or their institution's members)."""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger(__name__)


class RosterNames:
    def __init__(self, registry_url: str, timeout_s: float) -> None:
        self._url = registry_url.rstrip("/")
        self._timeout = timeout_s

    async def of(self, organization_id: str, bearer: str) -> dict[str, str] | None:
        """Member id → name of an organisation's current roll; None when the registry cannot say."""
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                answer = await client.get(
                    f"{self._url}/api/v1/organizations/{organization_id}/members",
                    headers={"Authorization": f"Bearer {bearer}"},
                )
        except httpx.HTTPError as exc:
            log.warning("the registry did not answer for a roll's names: %s", type(exc).__name__)
            return None
        if answer.status_code != 200:
            log.warning("the registry answered %d for a roll's names", answer.status_code)
            return None
        return {str(m["id"]): str(m.get("name") or "") for m in answer.json().get("items", [])}
