"""The HTTP side every service shares: the app factory, error answers, health and metrics
endpoints, and the `CurrentUser` dependency (bearer JWT or X-Api-Key)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .auth import Principal, TokenVerifier
from .bounds import BodyLimit, BodyTooLarge, NulInText, nul_in_text, too_large_body
from .errors import DomainError, Unauthorized
from .mongo.client import is_transient
from .runtime import Runtime
from .telemetry import setup_logging, setup_tracing
from .validation import explain

log = logging.getLogger(__name__)

# what a client waits before trying again while the store is unreachable: a restart takes well
# under a second, a replica-set election ~10 s
STORE_RETRY_AFTER_S = 5

ApiKeyResolver = Callable[[str], Awaitable[Principal | None]]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every error answer: `{"error": {"code", "message", "field"?}}`, the message Chinese first."""

    error: ErrorDetail


_ERRORS = {
    401: "未认证 / not authenticated",
    403: "无权访问 / forbidden",
    404: "不存在 / not found",
    409: "冲突 / conflict",
    413: "请求体过大 / payload too large",
    415: "媒体类型不支持 / unsupported media type",
    422: "请求无效 / invalid request",
    503: "暂时不可用，见 Retry-After / unavailable, see Retry-After",
}
_EVERY_ROUTE = (401, 403, 404, 422, 503)
_WRITES = (409, 413, 415)


def _document_errors(app: FastAPI) -> None:
    """Declare in the app's OpenAPI the error answers every API operation can give (auth, scope,
    lookup, validation, the store) and, for writes, conflicts and body limits, all in the
    `ErrorBody` shape; what an operation declares itself stays, except FastAPI's own 422 model,
    which this platform never answers."""
    build = app.openapi
    done = False

    def openapi() -> dict[str, Any]:
        nonlocal done
        schema = build()
        if done:
            return schema
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(body.pop("$defs", {}))
        schemas["ErrorBody"] = body
        ref = {"$ref": "#/components/schemas/ErrorBody"}
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith("/api/"):
                continue
            for method, operation in operations.items():
                statuses = _EVERY_ROUTE + (_WRITES if method in ("post", "put", "patch", "delete") else ())
                answers = operation.setdefault("responses", {})
                if "HTTPValidationError" in str(answers.get("422", "")):
                    del answers["422"]
                for status in statuses:
                    answers.setdefault(str(status), {"description": _ERRORS[status],
                                                     "content": {"application/json": {"schema": ref}}})
        done = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field, reason = explain(first)  # Chinese first: the field by its name, then why
        return JSONResponse(error_body("invalid", f"请求无效：{reason}", field or None), status_code=422)

    @app.exception_handler(PyMongoError)
    async def store_error(request: Request, exc: PyMongoError) -> Response:
        if not is_transient(exc):
            raise exc  # a bug or a refused command: the server error answer, logged with its trace
        log.warning("store unavailable during %s %s: %s", request.method, request.url.path, type(exc).__name__)
        message = "存储暂时不可用，请稍后重试 / the store is unavailable, try again later"
        return JSONResponse(error_body("unavailable", message), status_code=503,
                            headers={"Retry-After": str(STORE_RETRY_AFTER_S)})

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse(too_large_body(exc.limit), status_code=413, headers={"Connection": "close"})

    @app.exception_handler(NulInText)
    async def nul_in_body(_: Request, exc: NulInText) -> JSONResponse:
        return JSONResponse(nul_in_text(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (an optional body): a 422 as any bad body
            message = "请求体不是有效的 JSON / the body is not valid JSON"
            return JSONResponse(error_body("invalid", message, "$"), status_code=422)
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
            exc.status_code, "error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/readyz", responses={503: {"description": "未就绪 / not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        checks = await runtime.readiness()
        ok = all(checks.values())
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks},
                            status_code=200 if ok else 503)

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_service_app(runtime: Runtime, *, title: str, description: str = "",
                       routers: Sequence[APIRouter] = (), api_key_resolver: ApiKeyResolver | None = None,
                       on_started: Callable[[Runtime], Awaitable[None]] | None = None) -> FastAPI:
    """A FastAPI app whose lifespan starts and stops `runtime`. Nothing connects before that."""
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_started is not None:
            await on_started(runtime)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.tokens = TokenVerifier(settings.auth_jwt_secret, settings.auth_jwks_url)
    app.state.api_keys = api_key_resolver
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    _document_errors(app)
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    return app


def configure_process(runtime: Runtime) -> None:
    """Logging and tracing for a service process (not done at import, nor by tests' apps)."""
    s = runtime.settings
    setup_logging(s.service_name, s.log_level)
    setup_tracing(s.service_name, s.otel_exporter_otlp_endpoint)


async def current_principal(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer <JWT>` or `X-Api-Key`; 401 when neither is valid."""
    auth = request.headers.get("authorization", "")
    # where the call came from, for the audit trail: the peer uvicorn resolved through the proxies
    # it trusts (X-Forwarded-For from FORWARDED_ALLOW_IPS), never the header as a client wrote it
    ip = request.client.host if request.client else None
    if auth.lower().startswith("bearer "):
        verifier: TokenVerifier = request.app.state.tokens
        return replace(verifier.verify(auth[7:].strip()), ip=ip)
    api_key = request.headers.get("x-api-key")
    if api_key:
        resolver: ApiKeyResolver | None = request.app.state.api_keys
        principal = await resolver(api_key) if resolver is not None else None
        if principal is None:
            raise Unauthorized("API 密钥无效或已吊销 / invalid or revoked API key", field="X-Api-Key")
        return replace(principal, ip=ip)
    raise Unauthorized("需要身份认证 / authentication required")


CurrentUser = Annotated[Principal, Depends(current_principal)]

# Paging inputs of every list route. Bounded so that (page - 1) * page_size stays a skip the store
# takes: an unbounded page (2565459684445514629120) overflowed BSON's int64 and answered 500.
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 500
Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="页码，从 1 开始 / page number, from 1")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="每页条数 / items per page")]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def run_service(app_factory: Callable[[], FastAPI], host: str, port: int) -> None:
    """Serve an app with uvicorn (the services' `__main__`)."""
    import uvicorn

    # A connection is kept open longer than clients and proxies keep theirs idle (httpx: 5 s, nginx
    # ingress: 60 s): with uvicorn's 5 s both sides closed at once, and a request sent on the closing
    # connection failed with a reset (the demo's late L1 uploads, after 5 s idle).
    uvicorn.run(app_factory(), host=host, port=port, log_config=None, access_log=False, timeout_keep_alive=75)
