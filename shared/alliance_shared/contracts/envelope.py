"""The CloudEvents 1.0 envelope, and its Kafka binary-mode and HTTP structured/batch encodings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .. import bounds
from ..ids import uuid4
from ..validation import explain

# Extension attributes this platform defines (CloudEvents extension names: lowercase a-z0-9).
EXTENSIONS = (
    "institutionid",  # the institution the event is about or reported by
    "reportinglevel",  # L1 / L2 / L3 of the reporting institution
    "channel",  # upload / form / batch / stream / webhook: how it reached the activity service
    "receivedat",  # when the platform received it (RFC 3339), for timeliness
    "supersedes",  # id of the event this one corrects
    "late",  # "true" when the event belongs to a period that had already ended on arrival
    "flags",  # plausibility flags, comma separated
    "batchid",  # provenance: the submission it came in (an upload, a batch API call, a webhook call, a Kafka batch)
    "filename",  # provenance: the uploaded file's name (L1 upload)
    "sourcerow",  # provenance: the row of that file
    "filedby",  # who filed it: the API key id or the person's subject (never a secret), set by activity
    "onbehalfof",  # 上级代办: the branch a superior (Party admin, secretariat) filed it for, set by activity
)
_CORE = ("id", "source", "type", "subject", "time", "datacontenttype", "dataschema")

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
JSON_CONTENT_TYPE = "application/json"


class EnvelopeError(ValueError):
    """A message that is not a valid CloudEvent; `field` names the attribute at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event with the platform's extension attributes. `data` stays JSON here;
    `alliance_shared.contracts.catalog` turns it into the typed payload of its `type`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=500)
    type: str = Field(min_length=1, max_length=200)
    subject: str | None = None
    time: datetime | None = None
    datacontenttype: str | None = JSON_CONTENT_TYPE
    dataschema: str | None = None
    data: Any = None

    institutionid: str | None = None
    reportinglevel: str | None = None
    channel: str | None = None
    receivedat: datetime | None = None
    supersedes: str | None = None
    late: bool | None = None
    flags: str | None = None
    batchid: str | None = None
    filename: str | None = Field(default=None, max_length=300)
    sourcerow: int | None = None
    filedby: str | None = Field(default=None, max_length=200)
    onbehalfof: str | None = Field(default=None, max_length=100)

    @field_validator("time", "receivedat")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a UTC offset (RFC 3339)")
        return value

    @classmethod
    def new(cls, *, type: str, source: str, data: Any, subject: str | None = None,
            time: datetime | None = None, **extensions: Any) -> CloudEvent:
        """A fresh event with a random id and the current time."""
        return cls(id=str(uuid4()), type=type, source=source, subject=subject,
                   time=time or datetime.now(UTC), data=data, **extensions)

    def with_extensions(self, **changes: Any) -> CloudEvent:
        return self.model_copy(update=changes)

    # -- HTTP, structured mode -------------------------------------------------------------
    def to_structured(self) -> dict[str, Any]:
        """The structured-mode JSON object (attributes and `data` side by side)."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_structured(cls, obj: Any) -> CloudEvent:
        if not isinstance(obj, dict):
            raise EnvelopeError("$", "CloudEvent 应为 JSON 对象 / a CloudEvent must be a JSON object")
        if obj.get("specversion") != "1.0":
            raise EnvelopeError("specversion", "规范版本应为 \"1.0\" / must be \"1.0\"")
        try:
            return cls.model_validate(obj)
        except ValidationError as exc:
            field, reason = explain(exc.errors()[0])
            raise EnvelopeError(field or "$", reason) from None

    # -- Kafka, binary mode ------------------------------------------------------------------
    def to_kafka_headers(self) -> list[tuple[str, bytes]]:
        """`ce_*` headers of the CloudEvents Kafka binding, binary content mode."""
        headers: list[tuple[str, bytes]] = [("ce_specversion", b"1.0")]
        dumped = self.model_dump(mode="json", exclude_none=True)
        for name in (*_CORE, *EXTENSIONS):
            if name == "datacontenttype" or name not in dumped:
                continue
            value = dumped[name]
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            headers.append((f"ce_{name}", text.encode()))
        headers.append(("content-type", (self.datacontenttype or JSON_CONTENT_TYPE).encode()))
        return headers

    def kafka_value(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_kafka(cls, headers: Sequence[tuple[str, bytes]] | None, value: bytes | None) -> CloudEvent:
        """Decode a binary-mode message; a structured-mode one (content-type
        application/cloudevents+json) is accepted too."""
        attrs: dict[str, Any] = {}
        content_type = JSON_CONTENT_TYPE
        for key, raw in headers or ():
            try:
                text = raw.decode() if raw is not None else ""
            except UnicodeDecodeError:
                raise EnvelopeError(key, "消息头不是 UTF-8 编码 / header is not UTF-8") from None
            lowered = key.lower()
            if lowered == "content-type":
                content_type = text
            elif lowered.startswith("ce_"):
                attrs[lowered[3:]] = text
        if content_type.startswith(STRUCTURED_CONTENT_TYPE):
            return cls.from_structured(_json_loads(value))
        if not attrs:
            raise EnvelopeError("ce_specversion", "缺少 ce_* 消息头，不是二进制模式的 CloudEvent / "
                                "no ce_* headers: not a binary-mode CloudEvent")
        attrs["datacontenttype"] = content_type
        attrs["data"] = _json_loads(value) if value else None
        if "late" in attrs:
            attrs["late"] = attrs["late"] == "true"
        return cls.from_structured(attrs)


def _json_loads(value: bytes | None) -> Any:
    try:
        return bounds.loads(value)
    except bounds.JsonTooDeep as exc:
        raise EnvelopeError("data", str(exc)) from None
    except (ValueError, UnicodeDecodeError):
        raise EnvelopeError("data", "事件内容不是有效的 JSON / not valid JSON") from None


def is_json_media_type(content_type: str) -> bool:
    """A JSON body's media type: application/json or any +json type, such as the CloudEvents
    structured and batch modes. An absent type is read as JSON, as FastAPI reads it."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", JSON_CONTENT_TYPE) or (media.startswith("application/") and media.endswith("+json"))


def parse_http_body(content_type: str, body: bytes, *, max_depth: int = bounds.MAX_JSON_DEPTH) -> list[Any]:
    """Split an HTTP body into raw event objects: structured mode (one) or batch mode (array).

    Returns the raw JSON objects so that each can be validated and answered on its own. A body
    nested deeper than `max_depth` is refused before it is decoded.
    """
    try:
        payload = bounds.loads(body, max_depth=max_depth)
    except bounds.JsonTooDeep as exc:
        raise EnvelopeError("$", str(exc)) from None
    except (ValueError, UnicodeDecodeError):
        raise EnvelopeError("$", "请求体不是有效的 JSON / body is not valid JSON") from None
    if content_type.startswith(BATCH_CONTENT_TYPE) or isinstance(payload, list):
        if not isinstance(payload, list):
            raise EnvelopeError("$", "批量上报应为 JSON 数组 / a batch must be a JSON array")
        return payload
    return [payload]


def batch_body(events: Iterable[CloudEvent]) -> bytes:
    """The batch-mode HTTP body for `events`."""
    return json.dumps([e.to_structured() for e in events], ensure_ascii=False).encode()
