"""Stand-ins for the outside world, run on 127.0.0.1: an SMTP server (aiosmtpd) that keeps what it
receives, and Alibaba Cloud and Tencent Cloud SMS endpoints that check each request's signature the
way the providers do (written here independently of the adapters under test)."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import hashlib
import hmac
import json
import socket
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- SMTP ---------------------------------------------------------------------------------------------
class Inbox:
    """aiosmtpd handler: keeps messages; `fail_next` DATA commands answer 451 (a transient refusal)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.fail_next = 0
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            return "451 4.3.0 mailbox busy, try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def body_text(message: Message) -> str:
    return str(message.get_content())  # type: ignore[attr-defined]


# -- SMS providers ---------------------------------------------------------------------------------
@dataclass
class Provider:
    """What a fake provider accepted and refused."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)


def aliyun_app(secrets: dict[str, str], record: Provider) -> FastAPI:
    """dysmsapi SendSms: RPC GET, HMAC-SHA1 over GET&%2F&<encoded canonical query>, key = secret + "&"."""
    app = FastAPI()

    def enc(text: str) -> str:
        return urllib.parse.quote(text, safe="~").replace("%7E", "~")

    @app.get("/")
    async def send_sms(request: Request) -> JSONResponse:
        pairs = urllib.parse.parse_qsl(request.url.query, keep_blank_values=True)
        params = dict(pairs)
        given = params.pop("Signature", "")
        secret = secrets.get(params.get("AccessKeyId", ""))
        if secret is None:
            record.refused.append("InvalidAccessKeyId.NotFound")
            return JSONResponse(
                {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."},
                status_code=404,
            )
        canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
        to_sign = "GET&" + enc("/") + "&" + enc(canonical)
        expected = base64.b64encode(
            hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        required = (
            "Action",
            "Version",
            "SignatureMethod",
            "SignatureVersion",
            "SignatureNonce",
            "Timestamp",
            "PhoneNumbers",
            "SignName",
            "TemplateCode",
        )
        if any(k not in params for k in required) or params["SignatureMethod"] != "HMAC-SHA1":
            record.refused.append("MissingParameter")
            return JSONResponse({"Code": "MissingParameter", "Message": "missing"}, status_code=400)
        if not hmac.compare_digest(expected, given):
            record.refused.append("SignatureDoesNotMatch")
            return JSONResponse(
                {
                    "Code": "SignatureDoesNotMatch",
                    "Message": "Specified signature is not matched with our calculation.",
                },
                status_code=400,
            )
        if params["SignatureNonce"] in record.nonces:
            record.refused.append("SignatureNonceUsed")
            return JSONResponse({"Code": "SignatureNonceUsed", "Message": "nonce used"}, status_code=400)
        record.nonces.add(params["SignatureNonce"])
        record.accepted.append({**params, "TemplateParam": json.loads(params.get("TemplateParam") or "{}")})
        return JSONResponse(
            {"Code": "OK", "Message": "OK", "BizId": uuid.uuid4().hex, "RequestId": str(uuid.uuid4())}
        )

    return app


def tencent_app(secrets: dict[str, str], record: Provider) -> FastAPI:
    """SendSms with TC3-HMAC-SHA256: the canonical request from the signed headers as received."""
    app = FastAPI()

    @app.post("/")
    async def send_sms(request: Request) -> JSONResponse:
        body = await request.body()
        auth = request.headers.get("authorization", "")

        def error(code: str, message: str) -> JSONResponse:
            record.refused.append(code)
            return JSONResponse(
                {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}
            )

        try:
            algorithm, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            secret_id, date, service, terminator = parts["Credential"].split("/")
        except ValueError:
            return error("AuthFailure.SignatureFailure", "malformed Authorization")
        secret = secrets.get(secret_id)
        if algorithm != "TC3-HMAC-SHA256" or secret is None or terminator != "tc3_request":
            return error("AuthFailure.SecretIdNotFound", "unknown secret id")
        timestamp = int(request.headers.get("x-tc-timestamp", "0"))
        if datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d") != date:
            return error("AuthFailure.SignatureFailure", "credential date does not match the timestamp")
        signed = parts["SignedHeaders"].split(";")
        values = {h: request.headers.get(h, "").strip() for h in signed}
        canonical_headers = "".join(f"{h}:{v.lower() if h == 'host' else v}\n" for h, v in values.items())
        canonical = "\n".join(
            [
                "POST",
                "/",
                request.url.query,
                canonical_headers,
                parts["SignedHeaders"],
                hashlib.sha256(body).hexdigest(),
            ]
        )
        to_sign = "\n".join(
            [
                algorithm,
                str(timestamp),
                f"{date}/{service}/tc3_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )

        def mac(key: bytes, msg: str) -> bytes:
            return hmac.new(key, msg.encode(), hashlib.sha256).digest()

        key = mac(mac(mac(("TC3" + secret).encode(), date), service), "tc3_request")
        if not hmac.compare_digest(
            hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), parts["Signature"]
        ):
            return error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        payload = json.loads(body)
        record.accepted.append(payload)
        return JSONResponse(
            {
                "Response": {
                    "SendStatusSet": [
                        {
                            "SerialNo": uuid.uuid4().hex,
                            "PhoneNumber": payload["PhoneNumberSet"][0],
                            "Fee": 1,
                            "SessionContext": payload.get("SessionContext", ""),
                            "Code": "Ok",
                            "Message": "send success",
                            "IsoCode": "CN",
                        }
                    ],
                    "RequestId": str(uuid.uuid4()),
                }
            }
        )

    return app


class HttpStub:
    """A FastAPI app served by uvicorn in this event loop, on a free port."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):  # uvicorn offers a flag, not an event
            if self._server.started:
                return
            await asyncio.sleep(0.02)
        raise RuntimeError("stub server did not start")

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
