"""The secretariat's dashboard (issue 6): pages at `/` and `/report`, static assets, and the
dashboard API under `/api/v1/dashboard`. `router` is what the composition root mounts."""

from __future__ import annotations

from fastapi import APIRouter

from . import api, pages

router = APIRouter()
router.include_router(pages.router)
router.include_router(api.router)

__all__ = ["router"]
