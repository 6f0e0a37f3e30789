"""The dashboard's pages (`GET /`, `GET /report`) and its static assets, ECharts included: all
served from the package, nothing from a CDN, so it works on a closed network. The pages carry no
data: they call the API with the user's bearer token, and the API decides what they may see."""

from __future__ import annotations

from pathlib import Path

from alliance_shared.errors import NotFound
from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
STATIC = HERE / "static"
ASSETS = {p.name: p for p in STATIC.iterdir() if p.is_file()}
MEDIA = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}

templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
router = APIRouter(tags=["dashboard"])


def _page(name: str) -> HTMLResponse:
    html = templates.get_template(name).render(assets="/static/dashboard")
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard() -> HTMLResponse:
    return _page("index.html")


@router.get("/report", response_class=HTMLResponse, include_in_schema=False)
async def report() -> HTMLResponse:
    return _page("report.html")


@router.get("/rulesets", response_class=HTMLResponse, include_in_schema=False)
async def rulesets() -> HTMLResponse:
    return _page("rulesets.html")  # 评价细则草案、模拟评分与发布 / draft rulesets, what-if, publication


@router.get("/static/dashboard/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:
        raise NotFound(f"静态资源不存在 / no such asset: {name}", field="name")
    return FileResponse(
        path, media_type=MEDIA.get(path.suffix), headers={"Cache-Control": "public, max-age=3600"}
    )
