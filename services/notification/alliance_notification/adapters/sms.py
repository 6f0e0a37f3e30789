"""SMS channels: the provider interface, the generic HTTP provider, the `log` provider for
development, and the factory choosing them from settings. Provider SDKs are not used (and so never
retry on their own): our delivery id and status are the truth, retries are ours."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from alliance_shared.pii import mask_phone

from ..domain.deliveries import SendFailed, SendReceipt
from ..settings import NotificationSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    delivery_id: str
    phone: str  # plaintext, opened just before sending; never logged
    text: str
    template: str  # our template name
    params: dict[str, str] = field(default_factory=dict)
    provider_codes: dict[str, str] = field(default_factory=dict)


class SmsProvider(Protocol):
    name: str

    async def send(self, message: SmsMessage) -> SendReceipt: ...


def transient_http_status(status: int) -> bool:
    return status == 429 or status >= 500


class LogSms:
    """Development: writes a masked line to the log and pretends the SMS went out."""

    name = "log"

    async def send(self, message: SmsMessage) -> SendReceipt:
        log.info(
            "sms (log provider) to %s template=%s delivery=%s",
            mask_phone(message.phone),
            message.template,
            message.delivery_id,
        )
        return SendReceipt(provider=self.name, message_id=f"log-{message.delivery_id}")


class HttpSms:
    """A gateway of one's own: JSON POST {"phone", "text", "template", "params"} to `url`; 2xx is
    success, 429/5xx and network errors are transient, other answers permanent."""

    name = "http"

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self._url = url
        self._client = client

    async def send(self, message: SmsMessage) -> SendReceipt:
        body = {
            "phone": message.phone,
            "text": message.text,
            "template": message.template,
            "params": message.params,
            "delivery_id": message.delivery_id,
        }
        try:
            answer = await self._client.post(
                self._url, json=body, headers={"X-Delivery-Id": message.delivery_id}
            )
        except httpx.HTTPError as exc:
            raise SendFailed(
                f"http gateway unreachable: {type(exc).__name__}", transient=True, provider=self.name
            ) from None
        if answer.status_code >= 300:
            raise SendFailed(
                f"http gateway answered {answer.status_code}",
                transient=transient_http_status(answer.status_code),
                provider=self.name,
            )
        message_id = None
        try:
            data = answer.json()
            message_id = str(data.get("id") or data.get("message_id") or "") or None
        except ValueError:
            pass
        return SendReceipt(provider=self.name, message_id=message_id)


def build_sms_providers(settings: NotificationSettings, client: httpx.AsyncClient) -> list[SmsProvider]:
    """The primary provider and, when configured, the fallback, in the order they are tried."""
    from .aliyun import AliyunSms
    from .tencent import TencentSms

    def one(name: str) -> SmsProvider:
        if name == "aliyun":
            return AliyunSms(
                endpoint=settings.aliyun_sms_endpoint,
                access_key_id=settings.aliyun_access_key_id,
                access_key_secret=settings.aliyun_access_key_secret,
                sign_name=settings.aliyun_sms_sign_name,
                region_id=settings.aliyun_region_id,
                client=client,
            )
        if name == "tencent":
            return TencentSms(
                endpoint=settings.tencent_sms_endpoint,
                secret_id=settings.tencent_secret_id,
                secret_key=settings.tencent_secret_key,
                sdk_app_id=settings.tencent_sms_sdk_app_id,
                sign_name=settings.tencent_sms_sign_name,
                region=settings.tencent_region,
                client=client,
            )
        if name == "http":
            if not settings.sms_http_url:
                raise ValueError("SMS_PROVIDER=http needs SMS_HTTP_URL")
            return HttpSms(settings.sms_http_url, client)
        return LogSms()

    names: Sequence[str] = [settings.sms_provider]
    if settings.sms_fallback_provider and settings.sms_fallback_provider != settings.sms_provider:
        names = [*names, settings.sms_fallback_provider]
    return [one(n) for n in names]
