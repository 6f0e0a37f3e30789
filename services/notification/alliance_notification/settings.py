"""Settings of the notification service, read from the environment (see CONTRACT.md)."""

from __future__ import annotations

from typing import Literal

from alliance_shared.settings import ServiceSettings
from pydantic import Field

SmsProviderName = Literal["aliyun", "tencent", "http", "log"]


class NotificationSettings(ServiceSettings):
    service_name: str = "notification"
    port: int = 8004

    # email
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "noreply@alliance.local"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: Literal["auto", "always", "never"] = "auto"  # auto: upgrade when the server offers it
    smtp_timeout_s: float = 15.0

    # sms
    sms_provider: SmsProviderName = "log"
    sms_fallback_provider: SmsProviderName | None = None
    sms_http_url: str | None = None
    sms_timeout_s: float = 10.0
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    aliyun_access_key_id: str = ""
    aliyun_access_key_secret: str = ""
    aliyun_sms_sign_name: str = ""
    aliyun_region_id: str = "cn-hangzhou"
    tencent_sms_endpoint: str = "https://sms.tencentcloudapi.com"
    tencent_secret_id: str = ""
    tencent_secret_key: str = ""
    tencent_sms_sdk_app_id: str = ""
    tencent_sms_sign_name: str = ""
    tencent_region: str = "ap-guangzhou"

    # what one SMS part costs (yuan), for each institution's monthly SMS budget and spend
    sms_price_cny: float = 0.045

    # who gets the weekly digest and the escalations that reach the secretariat
    secretariat_email: str | None = None
    # token a provider's receipt callback presents in X-Receipt-Token (a secretariat JWT also works)
    receipt_token: str | None = None

    # scheduling
    dispatch_interval_s: float = 5.0
    # deliveries a pass sends at once: one at a time, a provider's round trip (an SMS API answers in
    # ~100 ms, an SMTP relay in tens) capped a replica at ~10 a second, so a quarter's reminders to
    # 3,000 branches took minutes; each delivery is still claimed on its own first
    dispatch_concurrency: int = Field(8, ge=1, le=64)
    # deliveries a pass reads; a pass that acts on all of them is followed at once by the next
    dispatch_page: int = Field(100, ge=1, le=1000)
    escalation_interval_s: float = 60.0
    digest_interval_s: float = 600.0
    retry_backoff_s: float = 60.0  # first retry after this, doubling each time
    retry_backoff_max_s: float = 3600.0
    max_attempts_per_channel: int = 4  # per provider for SMS, then the fallback, then the DLQ
    contact_wait_days: int = 3  # a reminder waits this long for a missing contact, then fails
    # while it waits, it is looked at again this often: it went back to the head of the queue, and a
    # pass's 100 could all be branches without a phone, sending nothing else
    contact_recheck_s: float = 60.0
