"""Email over SMTP with aiosmtplib: STARTTLS when the server offers it (or always / never, by
setting); 4xx replies and connection trouble are transient, 5xx permanent."""

from __future__ import annotations

import asyncio
import socket
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from ..domain.deliveries import SendFailed, SendReceipt
from ..settings import NotificationSettings


class SmtpMailer:
    name = "smtp"

    def __init__(self, settings: NotificationSettings) -> None:
        self._s = settings
        self._local_hostname: str | None = None  # what EHLO names: looked up once, not per message

    async def send(self, *, delivery_id: str, to: str, subject: str, text: str) -> SendReceipt:
        message = EmailMessage()
        message["From"] = self._s.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        # the delivery's own id: a retry of the same delivery is the same message to a server or a
        # mailbox that drops a Message-ID it has seen
        message_id = f"<{delivery_id}@alliance.local>"
        message["Message-ID"] = message_id
        message["X-Delivery-Id"] = delivery_id
        message.set_content(text, charset="utf-8")
        start_tls = {"auto": None, "always": True, "never": False}[self._s.smtp_starttls]
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        try:
            await aiosmtplib.send(
                message,
                hostname=self._s.smtp_host,
                port=self._s.smtp_port,
                username=self._s.smtp_username,
                password=self._s.smtp_password,
                start_tls=start_tls,
                timeout=self._s.smtp_timeout_s,
                local_hostname=self._local_hostname,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise SendFailed(
                f"smtp refused recipient ({codes})",
                transient=all(400 <= c < 500 for c in codes),
                provider=self.name,
                code="smtp_refused",
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise SendFailed(
                f"smtp {exc.code}: {exc.message}"[:300], transient=400 <= exc.code < 500, provider=self.name
            ) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendFailed(
                f"smtp unavailable: {type(exc).__name__}: {exc}"[:300],
                transient=True,
                provider=self.name,
                code="unreachable",
            ) from None
        return SendReceipt(provider=self.name, message_id=message_id)
