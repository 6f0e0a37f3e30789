"""Tencent Cloud SMS (SendSms, API 2021-01-11) with TC3-HMAC-SHA256 request signing as documented."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from ..domain.deliveries import SendFailed, SendReceipt
from .sms import SmsMessage, transient_http_status

CONTENT_TYPE = "application/json; charset=utf-8"
_TRANSIENT_PREFIXES = ("InternalError", "RequestLimitExceeded", "LimitExceeded", "ResourceUnavailable")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_signature(
    *,
    secret_key: str,
    service: str,
    host: str,
    payload: str,
    timestamp: int,
    method: str = "POST",
    content_type: str = CONTENT_TYPE,
    extra_signed_headers: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """(signature hex, signed header names) for a request with an empty query string."""
    headers = {
        "content-type": content_type,
        "host": host,
        **{k.lower(): v for k, v in (extra_signed_headers or {}).items()},
    }
    names = sorted(headers)
    canonical_headers = "".join(
        f"{n}:{headers[n].strip().lower() if n == 'host' else headers[n].strip()}\n" for n in names
    )
    signed = ";".join(names)
    canonical_request = "\n".join(
        [method, "/", "", canonical_headers, signed, hashlib.sha256(payload.encode()).hexdigest()]
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signed


def authorization(
    *, secret_id: str, secret_key: str, service: str, host: str, payload: str, timestamp: int
) -> str:
    sig, signed = tc3_signature(
        secret_key=secret_key, service=service, host=host, payload=payload, timestamp=timestamp
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{date}/{service}/tc3_request, "
        f"SignedHeaders={signed}, Signature={sig}"
    )


class TencentSms:
    name = "tencent"
    service = "sms"
    version = "2021-01-11"

    def __init__(
        self,
        *,
        endpoint: str,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        region: str,
        client: httpx.AsyncClient,
    ) -> None:
        self._endpoint = endpoint.rstrip("/") + "/"
        self._host = urlsplit(endpoint).netloc
        self._secret_id = secret_id
        self._secret_key = secret_key
        self._app_id = sdk_app_id
        self._sign_name = sign_name
        self._region = region
        self._client = client

    def request(self, message: SmsMessage, *, timestamp: int | None = None) -> tuple[dict[str, str], str]:
        code = message.provider_codes.get(self.name)
        if not code:
            raise SendFailed(
                f"template {message.template} has no Tencent template id", transient=False, provider=self.name
            )
        phone = message.phone if message.phone.startswith("+") else f"+86{message.phone}"
        payload = json.dumps(
            {
                "PhoneNumberSet": [phone],
                "SmsSdkAppId": self._app_id,
                "SignName": self._sign_name,
                "TemplateId": code,
                "TemplateParamSet": list(message.params.values()),
                "SessionContext": message.delivery_id,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        ts = timestamp if timestamp is not None else int(datetime.now(UTC).timestamp())
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": "SendSms",
            "X-TC-Version": self.version,
            "X-TC-Timestamp": str(ts),
            "X-TC-Region": self._region,
            "Authorization": authorization(
                secret_id=self._secret_id,
                secret_key=self._secret_key,
                service=self.service,
                host=self._host,
                payload=payload,
                timestamp=ts,
            ),
        }
        return headers, payload

    async def send(self, message: SmsMessage) -> SendReceipt:
        headers, payload = self.request(message)
        try:
            answer = await self._client.post(self._endpoint, content=payload.encode(), headers=headers)
        except httpx.HTTPError as exc:
            raise SendFailed(
                f"tencent unreachable: {type(exc).__name__}", transient=True, provider=self.name
            ) from None
        try:
            response = answer.json().get("Response", {})
        except (ValueError, AttributeError):
            response = {}
        error = response.get("Error")
        if answer.status_code != 200 or error:
            code = str((error or {}).get("Code", ""))
            raise SendFailed(
                f"tencent {answer.status_code} {code}: {(error or {}).get('Message', '')}"[:300],
                transient=transient_http_status(answer.status_code) or code.startswith(_TRANSIENT_PREFIXES),
                provider=self.name,
                code=code or None,
            )
        status = (response.get("SendStatusSet") or [{}])[0]
        code = str(status.get("Code", ""))
        if code != "Ok":
            raise SendFailed(
                f"tencent send status {code}: {status.get('Message', '')}"[:300],
                transient=code.startswith(_TRANSIENT_PREFIXES),
                provider=self.name,
                code=code or None,
            )
        return SendReceipt(provider=self.name, message_id=str(status.get("SerialNo") or "") or None)
