"""Applicant and staff notifications: templates, channels (e-mail, SMS, outbox), idempotent notifier."""

from workers.notify.channels import (
    ChannelError,
    EmailChannel,
    NotificationChannel,
    OutboxChannel,
    SmsChannel,
    SmsGatewayError,
)
from workers.notify.models import DeliveryReceipt, Recipients, RenderedMessage
from workers.notify.service import NotificationError, Notifier, SentLog, build_notifier
from workers.notify.templates import (
    MissingVariableError,
    TemplateRenderer,
    TemplateRenderError,
    UnknownTemplateError,
)

__all__ = [
    "ChannelError",
    "DeliveryReceipt",
    "EmailChannel",
    "MissingVariableError",
    "NotificationChannel",
    "NotificationError",
    "Notifier",
    "OutboxChannel",
    "Recipients",
    "RenderedMessage",
    "SentLog",
    "SmsChannel",
    "SmsGatewayError",
    "TemplateRenderError",
    "TemplateRenderer",
    "UnknownTemplateError",
    "build_notifier",
]
