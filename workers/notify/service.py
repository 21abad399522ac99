"""Send a job's notification through every channel, exactly once per job key and channel.

:class:`Notifier` renders the template and hands the message to each channel that has a recipient (the
outbox always). Zeebe delivers a job at least once, so :class:`SentLog` — a SQLite table keyed by
``(job_key, channel)`` — records every successful send; when the same job is delivered again, channels
already in the log are skipped and their stored receipts returned (``duplicate=True``), and only the
channels that failed last time are tried again. All channels are tried even when one fails; then
:class:`NotificationError` fails the job, so Zeebe retries it and the retry sends only what is missing.

The at-least-once edge: the log is written *after* a send succeeds, so a crash (or a failed log write)
between the two sends that channel again on redelivery. Writing before the send would instead lose
messages. The job key therefore travels with the message as an idempotency key to the other side: the
SMS gateway gets ``requestId`` = job key and can drop the repeat; an e-mail carries the deterministic
``Message-ID`` ``<job-<key>.<template>@…>``; an outbox file has a deterministic name and is overwritten.

Within one process, concurrent calls for the same job key are serialised (a lock per key). Across worker
replicas, Zeebe hands a job to one worker at a time until its timeout; keep the job timeout above the time
a send can take. Logs carry masked recipients only (``notify.sent``, ``notify.skipped_duplicate``,
``notify.failed``), never message text.
"""

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic.alias_generators import to_snake
from structlog.typing import FilteringBoundLogger

from workers.catalog.loader import config_dir
from workers.logging import get_logger
from workers.notify.channels import (
    EmailChannel,
    NotificationChannel,
    OutboxChannel,
    SmsChannel,
    SupportsAclose,
)
from workers.notify.models import (
    DeliveryReceipt,
    OutgoingMessage,
    Recipients,
    SmsGatewaySettings,
    SmtpSettings,
    mask_contacts,
)
from workers.notify.templates import TemplateRenderer, TemplateRenderError
from workers.portal.access import ProgressTokens, load_secret
from workers.settings import WorkerSettings

__all__ = [
    "OUTBOX_DIR_NAME",
    "SENT_LOG_FILE_NAME",
    "NotificationError",
    "Notifier",
    "SentLog",
    "build_notifier",
    "context_from_variables",
    "sms_settings",
    "smtp_settings",
]

_logger = get_logger(__name__)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sent (
    job_key  INTEGER NOT NULL,
    channel  TEXT    NOT NULL,
    template TEXT    NOT NULL,
    sent_at  TEXT    NOT NULL,
    receipt  TEXT    NOT NULL,
    PRIMARY KEY (job_key, channel)
) WITHOUT ROWID
"""


class NotificationError(Exception):
    """Some channels failed (the others were sent and logged); the text is safe to log and to report."""

    def __init__(self, job_key: int, failures: Mapping[str, str]) -> None:
        self.job_key = job_key
        self.failures = dict(failures)
        details = "; ".join(f"{channel}: {reason}" for channel, reason in self.failures.items())
        super().__init__(f"notification of job {job_key} failed on {', '.join(self.failures)}: {details}")


class SentLog:
    """Which channels have delivered which job's message: a SQLite file (stdlib ``sqlite3``).

    Table ``sent``: ``job_key`` INTEGER, ``channel`` TEXT (primary key together), ``template`` TEXT,
    ``sent_at`` TEXT (ISO 8601, UTC) and ``receipt`` TEXT (the :class:`DeliveryReceipt` as JSON, recipient
    masked). Blocking calls run in a thread; each opens its own connection, so the log is safe to use from
    several threads and processes (WAL journal, busy timeout).
    """

    def __init__(self, path: Path, *, busy_timeout_seconds: float = 10.0) -> None:
        self.path = path
        self._timeout = busy_timeout_seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=self._timeout)
        try:
            with connection:  # commits on success, rolls back on error
                yield connection
        finally:
            connection.close()

    def _receipts(self, job_key: int) -> dict[str, DeliveryReceipt]:
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT channel, receipt FROM sent WHERE job_key = ? ORDER BY channel", (job_key,)
            ).fetchall()
        return {channel: DeliveryReceipt.model_validate_json(receipt) for channel, receipt in rows}

    def _record(self, receipt: DeliveryReceipt) -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO sent (job_key, channel, template, sent_at, receipt) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (job_key, channel) DO NOTHING",
                (
                    receipt.job_key,
                    receipt.channel,
                    receipt.template,
                    receipt.sent_at.isoformat(),
                    receipt.model_dump_json(),
                ),
            )

    async def receipts(self, job_key: int) -> dict[str, DeliveryReceipt]:
        """The stored receipts of a job, by channel name."""
        return await asyncio.to_thread(self._receipts, job_key)

    async def record(self, receipt: DeliveryReceipt) -> None:
        """Store a receipt; a receipt already stored for the same job and channel is kept."""
        await asyncio.to_thread(self._record, receipt)


@dataclass
class _KeyLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Notifier:
    """Renders a template and delivers it through the channels, once per job key and channel."""

    def __init__(
        self, channels: Sequence[NotificationChannel], sent_log: SentLog, templates: TemplateRenderer
    ) -> None:
        names = [channel.name for channel in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique, got {names}")
        self.channels = tuple(channels)
        self.sent_log = sent_log
        self.templates = templates
        self._locks: dict[int, _KeyLock] = {}

    @contextlib.asynccontextmanager
    async def _job_lock(self, job_key: int) -> AsyncIterator[None]:
        entry = self._locks.setdefault(job_key, _KeyLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[job_key]

    async def notify(
        self,
        job_key: int,
        template: str,
        context: Mapping[str, Any],
        recipients: Recipients | Mapping[str, str | None],
    ) -> list[DeliveryReceipt]:
        """Deliver template ``template`` for job ``job_key``; the receipts, in channel order.

        Raises :class:`~workers.notify.templates.TemplateRenderError` when the template is unknown or a
        variable is missing (nothing is sent), :class:`NotificationError` when a channel failed (after
        trying all of them), and pydantic's ``ValidationError`` (without the values) for a malformed
        address or mobile number.
        """
        to = recipients if isinstance(recipients, Recipients) else Recipients.model_validate(recipients)
        log = _logger.bind(job_key=job_key, template=template)
        targets = [channel for channel in self.channels if channel.accepts(to)]
        async with self._job_lock(job_key):
            done = await self.sent_log.receipts(job_key)
            receipts: dict[str, DeliveryReceipt] = {}
            pending: list[NotificationChannel] = []
            for channel in targets:
                stored = done.get(channel.name)
                if stored is None:
                    pending.append(channel)
                    continue
                receipts[channel.name] = stored.model_copy(update={"duplicate": True})
                log.info("notify.skipped_duplicate", channel=channel.name, recipient=stored.recipient)
            if pending:
                await self._send(job_key, template, context, to, pending, receipts, log)
        return [receipts[channel.name] for channel in targets]

    async def _send(
        self,
        job_key: int,
        template: str,
        context: Mapping[str, Any],
        to: Recipients,
        pending: Sequence[NotificationChannel],
        receipts: dict[str, DeliveryReceipt],
        log: FilteringBoundLogger,
    ) -> None:
        try:
            content = await asyncio.to_thread(self.templates.render, template, context)
        except TemplateRenderError as exc:
            # Re-raised: the job failure carries the traceback, so the log line needs none.
            log.error(  # noqa: TRY400
                "notify.failed",
                reason="template",
                error_type=type(exc).__name__,
                error=mask_contacts(str(exc)),
            )
            raise
        message = OutgoingMessage(job_key=job_key, template=template, content=content)
        failures: dict[str, str] = {}
        for channel in pending:
            try:
                receipt = await channel.send(message, to)
            except Exception as exc:  # noqa: BLE001 -- every channel is tried; failures are raised together below
                reason = f"{type(exc).__name__}: {mask_contacts(str(exc))}"
                failures[channel.name] = reason
                log.warning(
                    "notify.failed",
                    channel=channel.name,
                    recipient=to.masked(),
                    error_type=type(exc).__name__,
                    error=mask_contacts(str(exc)),
                )
                continue
            await self.sent_log.record(receipt)
            receipts[channel.name] = receipt
            log.info(
                "notify.sent",
                channel=channel.name,
                recipient=receipt.recipient,
                message_id=receipt.message_id,
            )
        if failures:
            raise NotificationError(job_key, failures)

    async def aclose(self) -> None:
        """Close channels that hold connections (the SMS channel's HTTP pool)."""
        for channel in self.channels:
            if isinstance(channel, SupportsAclose):
                await channel.aclose()


def context_from_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """Template context from process variables: camelCase keys become snake_case (``caseNumber``)."""
    return {to_snake(key): value for key, value in variables.items()}


SENT_LOG_FILE_NAME: Final = "notify-sent.sqlite3"
OUTBOX_DIR_NAME: Final = "outbox"


def smtp_settings(settings: WorkerSettings) -> SmtpSettings | None:
    """The e-mail channel's settings, or None when ``SHUANGSHI_SMTP_HOST`` is not set."""
    if settings.smtp_host is None:
        return None
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security="starttls" if settings.smtp_starttls else "none",
        username=settings.smtp_username,
        password=settings.smtp_password,
        from_address=settings.mail_from,
    )


def sms_settings(settings: WorkerSettings) -> SmsGatewaySettings | None:
    """The SMS channel's settings, or None when ``SHUANGSHI_SMS_GATEWAY_URL`` is not set."""
    if settings.sms_gateway_url is None:
        return None
    if settings.sms_api_key is None:
        raise ValueError("SHUANGSHI_SMS_GATEWAY_URL is set but SHUANGSHI_SMS_API_KEY is not")
    return SmsGatewaySettings(
        url=settings.sms_gateway_url,
        api_key=settings.sms_api_key,
        sign_name=settings.sms_sign_name or None,
    )


def build_notifier(
    settings: WorkerSettings,
    *,
    templates_dir: Path | None = None,
    sms_transport: httpx.AsyncBaseTransport | None = None,
) -> Notifier:
    """The notifier the settings describe: outbox always, e-mail and SMS when configured.

    The outbox is ``<data dir>/outbox``, the sent log ``<data dir>/notify-sent.sqlite3``, the templates
    ``<config dir>/templates`` unless ``templates_dir`` is given. Progress links carry the portal's token
    (secret: ``SHUANGSHI_PORTAL_SECRET``, see :mod:`workers.portal.access`).
    """
    channels: list[NotificationChannel] = [OutboxChannel(settings.data_dir / OUTBOX_DIR_NAME)]
    smtp = smtp_settings(settings)
    if smtp is not None:
        channels.append(EmailChannel(smtp))
    sms = sms_settings(settings)
    if sms is not None:
        channels.append(SmsChannel(sms, transport=sms_transport))
    return Notifier(
        channels,
        SentLog(settings.data_dir / SENT_LOG_FILE_NAME),
        TemplateRenderer(
            templates_dir or config_dir() / "templates",
            progress_base_url=settings.progress_base_url,
            progress_token=ProgressTokens(load_secret(settings.data_dir)).token,
        ),
    )
