"""Delivery receipts in the providers' own formats, read into one shape.

- Alibaba Cloud SmsReport (HTTP batch push): a JSON array of
  ``{"phone_number", "send_time", "report_time", "success", "err_code", "err_msg", "sms_size",
  "biz_id", "out_id"}``; ``biz_id`` is SendSms's ``BizId``, ``out_id`` the ``OutId`` we sent (our
  delivery id). The pusher expects HTTP 200 and ``{"code": 0, "msg": "接收成功"}``.
- Tencent Cloud SMS status callback: a JSON array of ``{"user_receive_time", "nationcode",
  "mobile", "report_status": "SUCCESS"|"FAIL", "errmsg", "description", "sid"}``; ``sid`` is
  SendSms's ``SerialNo``. The caller expects ``{"result": 0, "errmsg": "OK"}``.

Neither provider signs its pushes; the receiving URL carries the platform's receipt token instead.
The phone numbers in a receipt are never read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

_SHANGHAI = ZoneInfo("Asia/Shanghai")
ProviderName = Literal["aliyun", "tencent"]


@dataclass(frozen=True)
class ProviderReceipt:
    provider: ProviderName
    message_id: str  # Aliyun biz_id, Tencent sid: stored with the delivery when it was sent
    delivery_id: str | None  # Aliyun out_id (our delivery id), when present
    delivered: bool
    code: str | None  # the carrier's or provider's code (DELIVERED, UNDELIV, MK:0001, …)
    description: str | None
    reported_at: datetime | None

    @property
    def key(self) -> str:
        """One receipt per message and outcome: a pushed-again receipt is the same one."""
        return f"{self.provider}:{self.message_id}:{'delivered' if self.delivered else 'failed'}"


@dataclass(frozen=True)
class ReceiptRefused:
    index: int
    field: str
    reason: str


def _local_time(value: Any) -> datetime | None:
    """The providers' "2017-01-01 00:00:00", which is Beijing time."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=_SHANGHAI)
    except ValueError:
        return None


def _text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text[:200] or None


def parse_aliyun(items: Sequence[Any]) -> tuple[list[ProviderReceipt], list[ReceiptRefused]]:
    """SmsReport items; an item without its biz_id or success is refused by its index, the rest kept."""
    out: list[ProviderReceipt] = []
    refused: list[ReceiptRefused] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            refused.append(ReceiptRefused(i, f"[{i}]", "回执须为对象 / each receipt must be an object"))
            continue
        biz_id = _text(item, "biz_id")
        success = item.get("success")
        if isinstance(success, str) and success.lower() in ("true", "false"):
            success = success.lower() == "true"
        if not biz_id:
            refused.append(ReceiptRefused(i, f"[{i}].biz_id", "缺少发送回执ID / biz_id is required"))
            continue
        if not isinstance(success, bool):
            refused.append(
                ReceiptRefused(i, f"[{i}].success", "须为 true 或 false / success must be a boolean")
            )
            continue
        out.append(
            ProviderReceipt(
                provider="aliyun",
                message_id=biz_id,
                delivery_id=_text(item, "out_id"),
                delivered=success,
                code=_text(item, "err_code"),
                description=_text(item, "err_msg"),
                reported_at=_local_time(item.get("report_time")),
            )
        )
    return out, refused


def parse_tencent(items: Sequence[Any]) -> tuple[list[ProviderReceipt], list[ReceiptRefused]]:
    """Status callback items; an item without its sid or a known report_status is refused."""
    out: list[ProviderReceipt] = []
    refused: list[ReceiptRefused] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            refused.append(ReceiptRefused(i, f"[{i}]", "回执须为对象 / each receipt must be an object"))
            continue
        sid = _text(item, "sid")
        status = (_text(item, "report_status") or "").upper()
        if not sid:
            refused.append(ReceiptRefused(i, f"[{i}].sid", "缺少发送标识 / sid is required"))
            continue
        if status not in ("SUCCESS", "FAIL"):
            refused.append(
                ReceiptRefused(
                    i, f"[{i}].report_status", "须为 SUCCESS 或 FAIL / report_status must be SUCCESS or FAIL"
                )
            )
            continue
        out.append(
            ProviderReceipt(
                provider="tencent",
                message_id=sid,
                delivery_id=None,
                delivered=status == "SUCCESS",
                code=_text(item, "errmsg"),
                description=_text(item, "description"),
                reported_at=_local_time(item.get("user_receive_time")),
            )
        )
    return out, refused


def provider_of(items: Sequence[Any]) -> ProviderName | None:
    """Which provider an array of receipts comes from, by its fields (None: neither)."""
    first = next((i for i in items if isinstance(i, Mapping)), None)
    if first is None:
        return None
    if "biz_id" in first or "err_code" in first:
        return "aliyun"
    if "sid" in first or "report_status" in first:
        return "tencent"
    return None
