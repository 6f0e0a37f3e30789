"""`GET /`: a placeholder until the secretariat's dashboard (issue 6) is built on the read models
documented in `alliance_evaluation.views`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["dashboard"])

PLACEHOLDER = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>市金融党建联盟 · 综合评价</title></head><body>
<h1>市金融党建联盟 · 综合评价 / Alliance evaluation</h1>
<p>驾驶舱建设中，请使用 <a href="/docs">API</a>。</p>
<p>The dashboard is on its way; use the <a href="/docs">API</a>.</p>
</body></html>"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard() -> str:
    return PLACEHOLDER
