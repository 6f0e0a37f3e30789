"""`make run` sends reminders where the operator says: its mail server and SMS gateway settings win
over the development inbox and the `log` SMS provider."""

from __future__ import annotations

import pytest
from alliance_localinfra.platform import development_channels, service_env

pytestmark = pytest.mark.unit

INFRA = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "MONGODB_URI": "mongodb://127.0.0.1:2/"}


def _notification_env(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in ("SMTP_HOST", "SMTP_PORT", "SMTP_FROM", "SMS_PROVIDER", "SMS_HTTP_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    import os

    return service_env(INFRA, "notification", 8004, development_channels(os.environ, 2525))


def test_without_settings_reminders_go_to_the_development_inbox_and_log(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _notification_env({}, monkeypatch)
    assert (env["SMTP_HOST"], env["SMTP_PORT"], env["SMS_PROVIDER"]) == ("127.0.0.1", "2525", "log")


def test_the_operators_mail_server_and_sms_gateway_win(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _notification_env(
        {"SMTP_HOST": "smtp.example.cn", "SMTP_PORT": "465", "SMTP_FROM": "dangjian@example.cn",
         "SMS_PROVIDER": "http", "SMS_HTTP_URL": "https://sms.example.cn/send"},
        monkeypatch,
    )
    assert env["SMTP_HOST"] == "smtp.example.cn" and env["SMTP_PORT"] == "465"
    assert env["SMTP_FROM"] == "dangjian@example.cn"
    assert env["SMS_PROVIDER"] == "http" and env["SMS_HTTP_URL"] == "https://sms.example.cn/send"


def test_mail_and_sms_are_configured_independently(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _notification_env({"SMS_PROVIDER": "aliyun"}, monkeypatch)
    assert env["SMS_PROVIDER"] == "aliyun" and env["SMTP_HOST"] == "127.0.0.1"
