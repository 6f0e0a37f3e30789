"""SMS channels: the provider interface, the generic HTTP provider, the `log` provider for
development, and the factory choosing them from settings. Provider SDKs are not used (and so never
retry on their own): our delivery id and status are the truth, retries are ours."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from alliance_shared.pii import mask_phone

from ..domain.deliveries import SendFailed, SendReceipt

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
