"""Delivery channels behind one interface: e-mail (SMTP), SMS (HTTP gateway) and a local outbox folder.

A channel has a ``name`` (its key in the sent log), says whether it ``accepts`` a set of recipients (the
e-mail channel needs an address, the SMS channel a mobile number, the outbox nothing) and sends an
:class:`~workers.notify.models.OutgoingMessage`, returning a :class:`~workers.notify.models.DeliveryReceipt`
with the recipient masked. Failures raise :class:`ChannelError` (or a subclass) whose text never holds an
address, a phone number or message text in clear.

Every channel passes the job key on as an idempotency hint, for the at-least-once edge the sent log
cannot close (a crash after the send and before the log write):

* e-mail: a deterministic ``Message-ID`` ``<job-<key>.<template>@<domain>>``, which mail stores and
  archivers use to drop duplicates;
* SMS: ``requestId`` = the job key (a string: 64-bit keys do not fit a JSON number in JavaScript), for
  gateways that deduplicate requests;
* outbox: the file name ``<key>-<template>.json`` is deterministic and written atomically, so a repeat
  overwrites the same file instead of adding one.
"""

import asyncio
import json
import os
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import aiosmtplib
import httpx

from workers.domain.validators import mask_phone
from workers.notify.models import (
    DeliveryReceipt,
    OutgoingMessage,
    Recipients,
    SmsGatewaySettings,
    SmtpSettings,
    mask_contacts,
    mask_email,
    utc_now,
)

__all__ = [
    "OUTBOX_FORMAT",
    "ChannelError",
    "EmailChannel",
    "NotificationChannel",
    "OutboxChannel",
    "SmsChannel",
    "SmsGatewayError",
    "SupportsAclose",
]

#: ``format`` field of every outbox file; bump the number when the layout changes.
OUTBOX_FORMAT: Final = "shuangshi.notify.outbox/1"
_MAX_ERROR_BODY: Final = 200


@runtime_checkable
class NotificationChannel(Protocol):
    """One way of delivering a rendered message."""

    @property
    def name(self) -> str:
        """The channel's key in the sent log and in receipts (``email``, ``sms``, ``outbox``)."""
        ...

    def accepts(self, recipients: Recipients) -> bool:
        """Whether the recipients give this channel somewhere to deliver to."""
        ...

    async def send(self, message: OutgoingMessage, recipient: Recipients) -> DeliveryReceipt:
        """Deliver ``message``; raise :class:`ChannelError` on failure."""
        ...


@runtime_checkable
class SupportsAclose(Protocol):
    """A channel that holds a connection pool to close at shutdown."""

    async def aclose(self) -> None:
        """Release the channel's resources."""
        ...


class ChannelError(Exception):
    """A channel failed to deliver; the text is safe to log (no addresses, numbers or message text)."""

    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        self.reason = mask_contacts(reason)
        super().__init__(f"{channel} channel: {self.reason}")


class SmsGatewayError(ChannelError):
    """The SMS gateway refused the request or could not be reached; ``status_code`` when it answered."""

    def __init__(self, reason: str, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__("sms", reason)


def _require(value: str | None, channel: str, what: str) -> str:
    if value is None:
        raise ChannelError(channel, f"no {what} among the recipients")
    return value


class EmailChannel:
    """E-mail over SMTP (aiosmtplib): UTF-8 subject and plain-text body, an HTML alternative if rendered."""

    name: Final = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def accepts(self, recipients: Recipients) -> bool:
        """Needs an e-mail address."""
        return recipients.email is not None

    def message_id(self, message: OutgoingMessage) -> str:
        """The deterministic ``Message-ID`` of a job's e-mail."""
        return f"<job-{message.job_key}.{message.template}@{self._settings.message_id_domain}>"

    def build(self, message: OutgoingMessage, recipient: Recipients) -> EmailMessage:
        """The MIME message for ``recipient`` (headers encoded per RFC 2047, body UTF-8)."""
        email = EmailMessage()
        email["From"] = self._settings.from_address
        email["To"] = _require(recipient.email, self.name, "e-mail address")
        email["Subject"] = message.content.subject
        email["Date"] = format_datetime(utc_now())
        email["Message-ID"] = self.message_id(message)
        email.set_content(message.content.text, charset="utf-8")
        if message.content.html is not None:
            email.add_alternative(message.content.html, subtype="html", charset="utf-8")
        return email

    async def send(self, message: OutgoingMessage, recipient: Recipients) -> DeliveryReceipt:
        """Send through the configured SMTP server; refused recipients or SMTP errors raise ChannelError."""
        settings = self._settings
        email = self.build(message, recipient)
        address = _require(recipient.email, self.name, "e-mail address")
        try:
            refused, _response = await aiosmtplib.send(
                email,
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=None if settings.password is None else settings.password.get_secret_value(),
                use_tls=settings.security == "tls",
                start_tls=settings.security == "starttls",
                timeout=settings.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ChannelError(self.name, f"SMTP delivery failed: {type(exc).__name__}: {exc}") from None
        if refused:
            codes = ", ".join(str(response.code) for response in refused.values())
            raise ChannelError(self.name, f"SMTP server refused the recipient (codes {codes})")
        return DeliveryReceipt(
            channel=self.name,
            job_key=message.job_key,
            template=message.template,
            recipient=mask_email(address),
            message_id=email["Message-ID"],
            sent_at=utc_now(),
        )


class SmsChannel:
    """SMS through an HTTP gateway: ``POST <url>`` with an API key header and a JSON body.

    Request body: ``{"phone": "13800001234", "text": "...", "signName": "...", "requestId": "<job key>"}``
    (``signName`` only when configured). Any 2xx answer is success; a JSON answer with a string
    ``messageId`` gives the receipt its message id. Anything else raises :class:`SmsGatewayError` with
    the status and a masked excerpt of the answer, never the phone number.
    """

    name: Final = "sms"

    def __init__(
        self, settings: SmsGatewaySettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=settings.timeout_seconds,
            headers={
                settings.api_key_header: settings.api_key.get_secret_value(),
                "Accept": "application/json",
            },
            follow_redirects=False,
        )

    def accepts(self, recipients: Recipients) -> bool:
        """Needs a mobile number."""
        return recipients.mobile is not None

    def payload(self, message: OutgoingMessage, recipient: Recipients) -> dict[str, str]:
        """The JSON body the gateway receives."""
        body = {
            "phone": _require(recipient.mobile, self.name, "mobile number"),
            "text": message.content.sms,
            "requestId": str(message.job_key),
        }
        if self._settings.sign_name:
            body["signName"] = self._settings.sign_name
        return body

    async def send(self, message: OutgoingMessage, recipient: Recipients) -> DeliveryReceipt:
        """Post the SMS to the gateway."""
        payload = self.payload(message, recipient)
        try:
            response = await self._client.post(self._settings.url, json=payload)
        except httpx.HTTPError as exc:
            raise SmsGatewayError(f"request to the SMS gateway failed: {type(exc).__name__}: {exc}") from None
        if not response.is_success:
            excerpt = response.text[:_MAX_ERROR_BODY].replace("\n", " ")
            raise SmsGatewayError(
                f"SMS gateway answered HTTP {response.status_code} {response.reason_phrase}: {excerpt}",
                response.status_code,
            )
        return DeliveryReceipt(
            channel=self.name,
            job_key=message.job_key,
            template=message.template,
            recipient=mask_phone(payload["phone"]),
            message_id=_message_id(response),
            sent_at=utc_now(),
        )

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.aclose()


def _message_id(response: httpx.Response) -> str | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    value = body.get("messageId") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


class OutboxChannel:
    """Writes every message as a JSON file ``<job key>-<template>.json`` into a local folder.

    The single-machine mode's delivery channel and an audit trail. The files hold the recipients and the
    message text in clear (they are the delivered messages), so the folder is created ``0700`` and each
    file ``0600``. File format (UTF-8 JSON)::

        {"format": "shuangshi.notify.outbox/1", "jobKey": "2251799813685249", "template": "accepted",
         "createdAt": "2025-06-12T01:02:03.456789+00:00",
         "recipients": {"email": "...", "mobile": "..."},
         "subject": "...", "text": "...", "sms": "...", "html": null}
    """

    name: Final = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def accepts(self, recipients: Recipients) -> bool:  # noqa: ARG002 -- part of the channel protocol
        """Always: the outbox keeps every message."""
        return True

    def path_for(self, message: OutgoingMessage) -> Path:
        """Where a job's message is written."""
        return self.directory / f"{message.job_key}-{message.template}.json"

    async def send(self, message: OutgoingMessage, recipient: Recipients) -> DeliveryReceipt:
        """Write the file atomically (temporary file, fsync, rename)."""
        try:
            path = await asyncio.to_thread(self._write, message, recipient)
        except OSError as exc:
            raise ChannelError(self.name, f"cannot write the outbox file: {type(exc).__name__}") from None
        return DeliveryReceipt(
            channel=self.name,
            job_key=message.job_key,
            template=message.template,
            recipient=", ".join(v for v in recipient.masked().values() if v) or "-",
            message_id=path.name,
            sent_at=utc_now(),
        )

    def _write(self, message: OutgoingMessage, recipient: Recipients) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.path_for(message)
        document = {
            "format": OUTBOX_FORMAT,
            "jobKey": str(message.job_key),
            "template": message.template,
            "createdAt": utc_now().isoformat(),
            "recipients": {"email": recipient.email, "mobile": recipient.mobile},
            "subject": message.content.subject,
            "text": message.content.text,
            "sms": message.content.sms,
            "html": message.content.html,
        }
        data = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return path
