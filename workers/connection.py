"""The gRPC channel to the Zeebe gateway: plain, TLS, OAuth client credentials or Camunda SaaS.

:func:`channel_plan` decides from the settings, :func:`create_channel` builds the channel with pyzeebe's
channel helpers. The choice, first match wins:

1. ``CAMUNDA_CLUSTER_ID`` set: **Camunda SaaS** (``<cluster>.<region>.zeebe.camunda.io:443``, TLS, OAuth
   against ``CAMUNDA_OAUTH_URL`` or ``https://login.cloud.camunda.io/oauth/token`` with audience
   ``CAMUNDA_TOKEN_AUDIENCE`` or ``zeebe.camunda.io``); needs the client id and secret.
2. ``CAMUNDA_AUTH_STRATEGY=OAUTH``, or no strategy but a client id and secret (the Camunda SDK infers it the
   same way): **OAuth client credentials** against ``CAMUNDA_OAUTH_URL`` over TLS to ``ZEEBE_ADDRESS``
   (Camunda 8 Self-Managed with Identity / Keycloak).
3. ``SHUANGSHI_ZEEBE_TLS=true`` or a CA certificate: **TLS** without credentials.
4. Otherwise **plain** gRPC (the embedded engine, a local Zeebe). ``CAMUNDA_AUTH_STRATEGY=BASIC`` concerns
   the REST API only and leaves the gRPC channel plain.

``ZEEBE_CA_CERTIFICATE_PATH`` (PEM) replaces the system's trusted roots for TLS to the gateway. The token
request is made by ``requests`` and trusts the system roots or ``REQUESTS_CA_BUNDLE``; the token endpoint
must be ``https://`` (``oauthlib`` refuses plain HTTP unless ``OAUTHLIB_INSECURE_TRANSPORT=1``).

Every channel reconnects on its own with gRPC's back-off, capped at ``SHUANGSHI_RECONNECT_MAX_SECONDS`` so
that the transport is back as soon as the workers' polls (see :mod:`workers.reconnect`) try again.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import grpc
from pydantic import SecretStr
from pyzeebe import (
    create_camunda_cloud_channel,
    create_insecure_channel,
    create_oauth2_client_credentials_channel,
    create_secure_channel,
)
from pyzeebe.channel.utils import get_camunda_address

from workers.settings import WorkerSettings

__all__ = [
    "CLOUD_OAUTH_URL",
    "CLOUD_REGION",
    "CLOUD_TOKEN_AUDIENCE",
    "ChannelKind",
    "ChannelPlan",
    "ConnectionSettingsError",
    "OAuthParams",
    "channel_options",
    "channel_plan",
    "create_channel",
]

#: Camunda SaaS defaults, as pyzeebe and the Camunda SDK use them.
CLOUD_OAUTH_URL: Final = "https://login.cloud.camunda.io/oauth/token"
CLOUD_TOKEN_AUDIENCE: Final = "zeebe.camunda.io"  # noqa: S105 - an audience name, not a secret
CLOUD_REGION: Final = "bru-2"

ChannelKind = Literal["insecure", "tls", "oauth", "camunda-cloud"]


class ConnectionSettingsError(ValueError):
    """The connection settings do not add up (the message names the variables)."""


@dataclass(frozen=True)
class OAuthParams:
    """Client credentials and where to exchange them for a token (the secret's repr is masked)."""

    client_id: str
    client_secret: SecretStr
    url: str
    audience: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class ChannelPlan:
    """What :func:`create_channel` builds; safe to log (no secret in clear)."""

    kind: ChannelKind
    address: str
    oauth: OAuthParams | None = None
    ca_certificate_path: Path | None = None
    cluster_id: str = ""  # Camunda SaaS only
    region: str = ""  # Camunda SaaS only


def _strategy(settings: WorkerSettings) -> str:
    if settings.auth_strategy is not None:
        return settings.auth_strategy
    return "OAUTH" if settings.client_id and settings.client_secret else "NONE"


def _credentials(settings: WorkerSettings, why: str) -> tuple[str, SecretStr]:
    if not settings.client_id or settings.client_secret is None:
        raise ConnectionSettingsError(
            f"{why} needs CAMUNDA_CLIENT_ID and CAMUNDA_CLIENT_SECRET "
            "(or ZEEBE_CLIENT_ID and ZEEBE_CLIENT_SECRET)"
        )
    return settings.client_id, settings.client_secret


def channel_plan(settings: WorkerSettings) -> ChannelPlan:
    """Which kind of channel the settings ask for, and its parameters (see the module documentation)."""
    ca = settings.ca_certificate_path
    if settings.cluster_id:
        client_id, secret = _credentials(settings, "Camunda SaaS (CAMUNDA_CLUSTER_ID)")
        region = settings.cluster_region or CLOUD_REGION
        oauth = OAuthParams(
            client_id,
            secret,
            settings.oauth_url or CLOUD_OAUTH_URL,
            settings.token_audience or CLOUD_TOKEN_AUDIENCE,
            settings.token_scope,
        )
        address = get_camunda_address(settings.cluster_id, region)
        return ChannelPlan("camunda-cloud", address, oauth, ca, settings.cluster_id, region)
    if _strategy(settings) == "OAUTH":
        client_id, secret = _credentials(settings, "CAMUNDA_AUTH_STRATEGY=OAUTH")
        if not settings.oauth_url:
            raise ConnectionSettingsError(
                "CAMUNDA_AUTH_STRATEGY=OAUTH needs CAMUNDA_OAUTH_URL (or ZEEBE_AUTHORIZATION_SERVER_URL): "
                "the token endpoint, e.g. https://keycloak.example/auth/realms/camunda-platform/protocol/"
                "openid-connect/token"
            )
        oauth = OAuthParams(
            client_id, secret, settings.oauth_url, settings.token_audience, settings.token_scope
        )
        return ChannelPlan("oauth", settings.zeebe_address, oauth, ca)
    if settings.zeebe_tls or ca is not None:
        return ChannelPlan("tls", settings.zeebe_address, ca_certificate_path=ca)
    return ChannelPlan("insecure", settings.zeebe_address)


def channel_options(settings: WorkerSettings) -> tuple[tuple[str, int], ...]:
    """gRPC's own reconnect back-off, from the first delay up to the same cap as the workers' polls."""
    return (
        ("grpc.initial_reconnect_backoff_ms", round(settings.reconnect_initial_seconds * 1000)),
        ("grpc.max_reconnect_backoff_ms", round(settings.reconnect_max_seconds * 1000)),
    )


def _tls_credentials(path: Path | None) -> grpc.ChannelCredentials | None:
    if path is None:
        return None  # pyzeebe then uses grpc.ssl_channel_credentials() with the system's roots
    try:
        roots = path.read_bytes()
    except OSError as exc:
        raise ConnectionSettingsError(f"ZEEBE_CA_CERTIFICATE_PATH={path}: {exc.strerror or exc}") from exc
    return grpc.ssl_channel_credentials(root_certificates=roots)


def create_channel(settings: WorkerSettings) -> grpc.aio.Channel:
    """The channel to the gateway the settings describe (see :func:`channel_plan`)."""
    plan = channel_plan(settings)
    options = channel_options(settings)
    if plan.kind == "insecure":
        return create_insecure_channel(grpc_address=plan.address, channel_options=options)
    credentials = _tls_credentials(plan.ca_certificate_path)
    oauth = plan.oauth
    if oauth is None:
        return create_secure_channel(
            grpc_address=plan.address, channel_options=options, channel_credentials=credentials
        )
    if plan.kind == "oauth":
        return create_oauth2_client_credentials_channel(
            grpc_address=plan.address,
            client_id=oauth.client_id,
            client_secret=oauth.client_secret.get_secret_value(),
            authorization_server=oauth.url,
            scope=oauth.scope,
            audience=oauth.audience,
            channel_credentials=credentials,
            channel_options=options,
        )
    return create_camunda_cloud_channel(
        client_id=oauth.client_id,
        client_secret=oauth.client_secret.get_secret_value(),
        cluster_id=plan.cluster_id,
        region=plan.region,
        authorization_server=oauth.url,
        scope=oauth.scope,
        audience=oauth.audience,
        channel_credentials=credentials,
        channel_options=options,
    )
