"""The OAuth channel end to end: a token from a local HTTPS token endpoint reaches a local TLS gateway.

Both servers run in the test with a self-signed certificate made for 127.0.0.1; the channel trusts it
through ZEEBE_CA_CERTIFICATE_PATH and the token request through REQUESTS_CA_BUNDLE.
"""

import base64
import datetime as dt
import ipaddress
import json
import ssl
import threading
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from pyzeebe import ZeebeClient
from pyzeebe.errors import ZeebeGatewayUnavailableError
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayServicer, add_GatewayServicer_to_server

from workers.connection import channel_plan, create_channel
from workers.settings import WorkerSettings

TOKEN = "token-for-workers-1"  # noqa: S105 - a test token the fake endpoint issues


@dataclass
class Certificate:
    cert: Path
    key: Path


def _self_signed(folder: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Certificate(cert_path, key_path)


@dataclass
class TokenEndpoint:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def _token_handler(endpoint: TokenEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            basic = self.headers.get("Authorization", "")
            endpoint.requests.append(
                {
                    "path": self.path,
                    "form": {key: values[0] for key, values in form.items()},
                    "basic": base64.b64decode(basic.removeprefix("Basic ")).decode() if basic else None,
                }
            )
            body = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            """Quiet."""

    return Handler


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return _self_signed(tmp_path)


@pytest.fixture
def token_endpoint(certificate: Certificate) -> Iterator[TokenEndpoint]:
    """An HTTPS OAuth token endpoint on 127.0.0.1 that issues TOKEN to anyone and records the requests."""
    endpoint = TokenEndpoint("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _token_handler(endpoint))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert, certificate.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    endpoint.url = f"https://127.0.0.1:{server.server_address[1]}/realms/camunda/token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class RecordingGateway(GatewayServicer):
    """Answers Topology and records the authorization metadata of each call."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []

    async def Topology(self, request: Any, context: Any) -> Any:  # noqa: N802, ARG002 - gRPC method name
        metadata = dict(context.invocation_metadata() or ())
        self.authorizations.append(metadata.get("authorization"))
        broker = pb.BrokerInfo(nodeId=0, host="127.0.0.1", port=26501, version="test")
        return pb.TopologyResponse(brokers=[broker], clusterSize=1, partitionsCount=1, replicationFactor=1)


@pytest.fixture
async def tls_gateway(certificate: Certificate) -> AsyncIterator[tuple[str, RecordingGateway]]:
    """A gRPC gateway on 127.0.0.1 behind TLS with the test certificate."""
    gateway = RecordingGateway()  # type: ignore[abstract]  # the other RPCs answer UNIMPLEMENTED
    server = grpc.aio.server()
    add_GatewayServicer_to_server(gateway, server)
    credentials = grpc.ssl_server_credentials([(certificate.key.read_bytes(), certificate.cert.read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    try:
        yield f"127.0.0.1:{port}", gateway
    finally:
        await server.stop(0)


async def test_oauth_channel_sends_the_token_from_the_token_endpoint(
    certificate: Certificate,
    token_endpoint: TokenEndpoint,
    tls_gateway: tuple[str, RecordingGateway],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Client credentials go to CAMUNDA_OAUTH_URL with the audience; the gateway gets 'Bearer <token>'."""
    address, gateway = tls_gateway
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate.cert))
    settings = WorkerSettings(
        zeebe_address=address,
        client_id="shuangshi-workers",
        client_secret=SecretStr("client-s3cret"),
        oauth_url=token_endpoint.url,
        token_audience="zeebe-api",  # noqa: S106 - an audience, not a secret
        ca_certificate_path=certificate.cert,
    )
    assert channel_plan(settings).kind == "oauth"
    channel = create_channel(settings)
    try:
        topology = await ZeebeClient(channel).topology()
        await ZeebeClient(channel).topology()
    finally:
        await channel.close()
    assert topology.brokers[0].version == "test"
    assert gateway.authorizations == [f"Bearer {TOKEN}", f"Bearer {TOKEN}"]
    assert len(token_endpoint.requests) == 1  # the token is cached until it expires
    request = token_endpoint.requests[0]
    assert request["path"] == "/realms/camunda/token"
    assert request["form"]["grant_type"] == "client_credentials"
    assert request["form"]["audience"] == "zeebe-api"
    credentials = (
        request["basic"] or f"{request['form'].get('client_id')}:{request['form'].get('client_secret')}"
    )
    assert credentials == "shuangshi-workers:client-s3cret"


async def test_tls_channel_trusts_the_configured_ca_only(
    certificate: Certificate, tls_gateway: tuple[str, RecordingGateway], tmp_path: Path
) -> None:
    """TLS with ZEEBE_CA_CERTIFICATE_PATH reaches the gateway (no token); another CA is refused."""
    address, gateway = tls_gateway
    channel = create_channel(WorkerSettings(zeebe_address=address, ca_certificate_path=certificate.cert))
    try:
        await ZeebeClient(channel).topology()
    finally:
        await channel.close()
    assert gateway.authorizations == [None]
    (tmp_path / "other").mkdir()
    other = _self_signed(tmp_path / "other")
    channel = create_channel(WorkerSettings(zeebe_address=address, ca_certificate_path=other.cert))
    try:
        with pytest.raises(ZeebeGatewayUnavailableError):
            await ZeebeClient(channel).topology()
    finally:
        await channel.close()
