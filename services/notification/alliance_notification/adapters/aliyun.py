"""Alibaba Cloud SMS (dysmsapi, SendSms, RPC style) with the documented request signing:
HMAC-SHA1 over ``GET&%2F&`` + the percent-encoded canonical query, keyed with the secret + "&"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
from alliance_shared.ids import uuid4

from ..domain.deliveries import SendFailed, SendReceipt
from .sms import SmsMessage, transient_http_status

# codes worth retrying (throttling, provider-side trouble); anything else will not improve by waiting
_TRANSIENT_CODES = (
    "isv.BUSINESS_LIMIT_CONTROL",
    "Throttling",
    "ServiceUnavailable",
    "InternalError",
    "isp.SYSTEM_ERROR",
    "isv.DAY_LIMIT_CONTROL",
)


def percent_encode(value: str) -> str:
    """RFC 3986 as the provider documents it: A-Z a-z 0-9 - _ . ~ stay, space is %20, UTF-8 bytes as %XY."""
    return quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )


def string_to_sign(params: Mapping[str, str], method: str = "GET") -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def signature(params: Mapping[str, str], access_key_secret: str, method: str = "GET") -> str:
    mac = hmac.new(f"{access_key_secret}&".encode(), string_to_sign(params, method).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


class AliyunSms:
    name = "aliyun"

    def __init__(
        self,
        *,
        endpoint: str,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        region_id: str,
        client: httpx.AsyncClient,
    ) -> None:
        self._endpoint = endpoint.rstrip("/") + "/"
        self._key_id = access_key_id
        self._secret = access_key_secret
        self._sign_name = sign_name
        self._region = region_id
        self._client = client

    def signed_params(
        self, message: SmsMessage, *, now: datetime | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        code = message.provider_codes.get(self.name)
        if not code:
            raise SendFailed(
                f"template {message.template} has no Aliyun template code",
                transient=False,
                provider=self.name,
            )
        params = {
            "AccessKeyId": self._key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": self._region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or str(uuid4()),
            "SignatureVersion": "1.0",
            "Timestamp": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
            "PhoneNumbers": message.phone,
            "SignName": self._sign_name,
            "TemplateCode": code,
            "TemplateParam": json.dumps(message.params, ensure_ascii=False, separators=(",", ":")),
            "OutId": message.delivery_id,
        }
        params["Signature"] = signature(params, self._secret)
        return params

    async def send(self, message: SmsMessage) -> SendReceipt:
        params = self.signed_params(message)
        url = (
            self._endpoint
            + "?"
            + "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        )
        try:
            answer = await self._client.get(url)
        except httpx.HTTPError as exc:
            raise SendFailed(
                f"aliyun unreachable: {type(exc).__name__}", transient=True, provider=self.name
            ) from None
        try:
            data = answer.json()
        except ValueError:
            data = {}
        code = str(data.get("Code", ""))
        if answer.status_code == 200 and code == "OK":
            return SendReceipt(provider=self.name, message_id=str(data.get("BizId") or "") or None)
        transient = transient_http_status(answer.status_code) or code.startswith(_TRANSIENT_CODES)
        raise SendFailed(
            f"aliyun {answer.status_code} {code}: {data.get('Message', '')}"[:300],
            transient=transient,
            provider=self.name,
            code=code or None,
        )
