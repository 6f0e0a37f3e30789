"""Request bodies bounded before anything parses them: JSON nesting depth (so a decoder never
recurses into a hostile body), the byte size of every request body (`BodyLimit`, the ASGI guard
each service app installs from `MAX_BODY_BYTES` / `MAX_UPLOAD_BYTES`), and the NUL character, which
no text of the platform holds (a JSON body's `\u0000`, a path's or a query's `%00`): refused with
422 before it reaches a handler or the store (PostgreSQL's jsonb, under the embedded store, cannot
hold it and answered a server error)."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# deeper than any event or request the platform defines (a batch, an event, its data, a list of items)
MAX_JSON_DEPTH = 32

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class JsonTooDeep(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"nested deeper than {limit} levels")
        self.limit = limit


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest, without decoding it (C-speed byte
    operations: ~30 ms for a 2 MB batch, a quarter of `json.loads` on it)."""
    # escapes first, pairs left to right as a JSON lexer reads them, so no quote is taken for an end
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = text.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:  # strings holding brackets: keep what lies between them
        skeleton = b"".join(skeleton.split(b'"')[::2])
    return max(accumulate(memoryview(skeleton.translate(_STEPS)).cast("b")), default=0)


def loads(body: bytes | str | None, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads`, refusing a text nested deeper than `max_depth` (`JsonTooDeep`, a ValueError)
    before the decoder recurses into it."""
    raw = body.encode() if isinstance(body, str) else (body or b"null")
    if json_depth(raw) > max_depth:
        raise JsonTooDeep(max_depth)
    return json.loads(raw)


def too_large_body(limit: int) -> dict[str, Any]:
    """The 413 answer (the shape of `alliance_shared.http.error_body`)."""
    message = f"请求体超过 {limit} 字节 / request body larger than {limit} bytes"
    return {"error": {"code": "payload_too_large", "message": message, "field": "$"}}


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a body without a Content-Length grows past its bound; an
    HTTPException so that form parsing passes it through to the app's error answer."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_body(limit)["error"]["message"])
        self.limit = limit


# a NUL byte, or the JSON escape \u0000 not itself escaped (an even run of backslashes before it)
_NUL = re.compile(rb"\x00|(?<!\\)(?:\\\\)*\\u0000")
_JSON = (b"application/json", b"application/cloudevents", b"text/json")


def nul_in_text() -> dict[str, Any]:
    """The 422 answer for a NUL character (the shape of `alliance_shared.http.error_body`)."""
    message = "文本不能包含空字符（\\u0000）/ text may not contain the NUL character (\\u0000)"
    return {"error": {"code": "invalid", "message": message, "field": "$"}}


class NulInText(HTTPException):
    """Raised from `receive` when a JSON body holds a NUL character."""

    def __init__(self) -> None:
        super().__init__(status_code=422, detail=nul_in_text()["error"]["message"])


class BodyLimit:
    """Refuses a request body larger than `max_body_bytes` (multipart uploads: `max_upload_bytes`)
    with 413 in the platform's error shape: at once when Content-Length says so, else as soon as
    the streamed body passes the bound, before the app has read more than that."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit = self.max_upload_bytes if multipart else self.max_body_bytes
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            answer = JSONResponse(too_large_body(limit), status_code=413, headers={"Connection": "close"})
            await answer(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            await JSONResponse(nul_in_text(), status_code=422)(scope, receive, send)
            return
        content_type = headers.get(b"content-type", b"").lower()
        json_body = not content_type or content_type.startswith(_JSON)
        received = 0
        tail = b""  # a chunk's last bytes, so that an escape split between two chunks is seen

        async def bounded() -> Message:
            nonlocal received, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    raise BodyTooLarge(limit)
                if json_body and (b"\x00" in chunk or b"u0000" in tail + chunk) and _NUL.search(tail + chunk):
                    raise NulInText()
                tail = (tail + chunk)[-64:]
            return message

        await self.app(scope, bounded, send)
