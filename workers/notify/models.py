"""Models of the notification domain: recipients, messages, delivery receipts, channel settings.

Process variables are camelCase (``email``, ``mobile``); Python names are snake_case. Recipients and
receipts never show an address in clear in their ``repr``; receipts store only the masked address, so a
receipt may be logged, kept in the sent log and returned as a process variable.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictInt,
    StrictStr,
    field_validator,
)
from pydantic.alias_generators import to_camel

from workers.domain.validators import check_email, check_mobile, mask_phone, normalize_mobile
from workers.logging import mask_text

__all__ = [
    "ChannelName",
    "DeliveryReceipt",
    "OutgoingMessage",
    "Recipients",
    "RenderedMessage",
    "SmsGatewaySettings",
    "SmtpSecurity",
    "SmtpSettings",
    "mask_contacts",
    "mask_email",
    "utc_now",
]

#: The name a channel is known by in the sent log and in receipts (``email``, ``sms``, ``outbox``).
ChannelName = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9-]*$")]
#: How the SMTP connection is secured: none (a local mail catcher), STARTTLS upgrade, or implicit TLS.
SmtpSecurity = Literal["none", "starttls", "tls"]

_EMAIL_IN_TEXT_RE: Final = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def mask_email(value: str) -> str:
    """Keep the first character of the local part and the domain (``z***@example.com``)."""
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return "*" * len(value)
    return f"{local[0]}***@{domain}"


def mask_contacts(text: str) -> str:
    """``text`` with every e-mail address, mobile number and ID number in it masked (for logs and errors)."""
    return mask_text(_EMAIL_IN_TEXT_RE.sub(lambda match: mask_email(match.group()), text))


class _Model(BaseModel):
    """Immutable, camelCase aliases, unknown keys rejected; input values never echoed in errors."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        hide_input_in_errors=True,
    )


class Recipients(_Model):
    """Where a notification goes: an e-mail address and/or a mainland mobile number.

    Empty strings count as absent. The mobile number is normalised (spaces, hyphens and a ``+86`` prefix
    removed). Invalid values are rejected without echoing them.
    """

    email: StrictStr | None = Field(default=None, repr=False)
    mobile: StrictStr | None = Field(default=None, repr=False)

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if check_email(value):
            raise ValueError("not an e-mail address")
        return value

    @field_validator("mobile")
    @classmethod
    def _check_mobile(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = normalize_mobile(value)
        if check_mobile(value):
            raise ValueError("not a mainland mobile number")
        return value

    def masked(self) -> dict[str, str | None]:
        """The recipients as they may be logged."""
        return {
            "email": None if self.email is None else mask_email(self.email),
            "mobile": None if self.mobile is None else mask_phone(self.mobile),
        }


class RenderedMessage(_Model):
    """A template rendered for one case: e-mail subject and body, SMS text, optional HTML body."""

    subject: StrictStr
    text: StrictStr
    sms: StrictStr
    html: StrictStr | None = None


class OutgoingMessage(_Model):
    """What a channel sends: the rendered message plus the job key that makes the send idempotent."""

    job_key: StrictInt
    template: StrictStr
    content: RenderedMessage


class DeliveryReceipt(_Model):
    """Proof that one channel delivered one job's message (stored in the sent log, safe to log).

    ``recipient`` is masked. ``message_id`` is what the channel reports: the e-mail ``Message-ID``, the
    SMS gateway's message id (if it returns one) or the outbox file name. ``duplicate`` is true when the
    receipt comes from the sent log because an earlier delivery of the same job already sent it.
    """

    channel: ChannelName
    job_key: StrictInt
    template: StrictStr
    recipient: StrictStr
    message_id: StrictStr | None = None
    sent_at: AwareDatetime
    duplicate: bool = False


class SmtpSettings(_Model):
    """SMTP connection of the e-mail channel."""

    host: StrictStr
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 587
    security: SmtpSecurity = "starttls"
    username: StrictStr | None = None
    password: SecretStr | None = None
    from_address: StrictStr
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    #: Domain of the deterministic ``Message-ID`` (``<job-<key>.<template>@domain>``).
    message_id_domain: StrictStr = "shuangshi.invalid"


class SmsGatewaySettings(_Model):
    """HTTP SMS gateway: ``POST url``, JSON ``{phone, text, signName?, requestId}``, an API key header."""

    url: StrictStr
    api_key: SecretStr
    api_key_header: StrictStr = "X-API-Key"
    sign_name: StrictStr | None = None
    timeout_seconds: Annotated[float, Field(gt=0)] = 10.0


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)
