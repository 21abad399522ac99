"""Notifications: templates, a real SMTP server (aiosmtpd), a fake SMS gateway, the outbox and idempotency."""

import asyncio
import email
import email.policy
import json
import socket
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr, ValidationError
from structlog.testing import capture_logs

from workers.notify.channels import (
    OUTBOX_FORMAT,
    ChannelError,
    EmailChannel,
    OutboxChannel,
    SmsChannel,
    SmsGatewayError,
)
from workers.notify.models import (
    OutgoingMessage,
    Recipients,
    SmsGatewaySettings,
    SmtpSettings,
)
from workers.notify.service import (
    NotificationError,
    Notifier,
    SentLog,
    build_notifier,
    context_from_variables,
)
from workers.notify.templates import (
    MissingVariableError,
    TemplateRenderer,
    TemplateRenderError,
    UnknownTemplateError,
    cn_date,
)
from workers.settings import WorkerSettings

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "config" / "templates"
PROGRESS_BASE = "https://zwfw.shanting.example/progress/"
WAIT_SECONDS = 10.0

PHONE = "13800001234"
EMAIL = "zhangwei.test@example.com"
API_KEY = "test-api-key-0001"
JOB_KEY = 2251799813685249
CASE_NUMBER = "XJ-2025-000123"

_APPLICANT = {
    "applicant_name": "张伟",
    "case_number": CASE_NUMBER,
    "item_name": "基本医疗保险参保人员异地就医备案",
    "office_name": "西集镇便民服务中心",
}

#: A realistic context for every template the project ships.
CONTEXTS: dict[str, dict[str, Any]] = {
    "accepted": {**_APPLICANT, "time_limit_days": 3, "due_date": "2025-06-17"},
    "materials-notice": {
        **_APPLICANT,
        "missing_materials": ["定点医疗机构出具的转诊转院证明", "居民身份证或社会保障卡"],
        "supplement_deadline": date(2025, 6, 20),
    },
    "not-accepted": {
        **_APPLICANT,
        "reasons": ["申请事项不属于本机关职权范围", "申请人已在区级窗口提交同一申请"],
    },
    "decision-approved": {
        **_APPLICANT,
        "document_number": "山西集医备〔2025〕0123号",
        "seal_owner_name": "山亭区西集镇人民政府",
    },
    "decision-rejected": {
        **_APPLICANT,
        "document_number": "山医保不予〔2025〕0045号",
        "seal_owner_name": "山亭区医疗保障局",
        "reasons": ["转入医疗机构不属于异地联网定点医疗机构"],
    },
    "forwarded": {
        **_APPLICANT,
        "item_name": "再生育审批",
        "department_name": "区行政审批服务局",
        "due_date": "2025-06-26",
    },
    "returned": {
        **_APPLICANT,
        "item_name": "再生育审批",
        "department_name": "区行政审批服务局",
        "reasons": ["审核意见所盖电子印章验证未通过"],
    },
    "alert-yellow": {
        "supervisor_group_name": "西集镇便民服务中心督办组",
        "case_number": CASE_NUMBER,
        "item_name": "创业担保贷款、创业补贴服务",
        "office_name": "西集镇便民服务中心",
        "current_step": "实质性审核",
        "due_date": "2025-06-17T17:00:00+08:00",
        "remaining_days": 1,
    },
    "alert-red": {
        "supervisor_group_name": "区行政审批服务局督办组",
        "case_number": CASE_NUMBER,
        "item_name": "创业担保贷款、创业补贴服务",
        "office_name": "区人力资源和社会保障局",
        "current_step": "审核决定",
        "due_date": datetime(2025, 6, 17, 9, 0, tzinfo=UTC),
        "overdue_days": 2,
    },
}
APPLICANT_TEMPLATES = {name for name, context in CONTEXTS.items() if "applicant_name" in context}
SMS_LIMIT = 70  # Chinese characters in one SMS segment (the gateway adds the signature)


# --------------------------------------------------------------------------------------------------
# A real SMTP server and a fake SMS gateway
# --------------------------------------------------------------------------------------------------


class StoringHandler:
    """aiosmtpd handler that keeps every received message (the server answers 250 after storing it)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._changed = threading.Condition()

    async def handle_DATA(self, _server: Any, _session: Session, envelope: Envelope) -> str:  # noqa: N802 -- aiosmtpd hook name
        """Store the message as parsed by the stdlib ``email`` package."""
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._changed:
            self.messages.append(parsed)
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int) -> list[EmailMessage]:
        """The messages once at least ``count`` have arrived; fails after a timeout."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.messages) >= count, timeout=WAIT_SECONDS)
        assert arrived, f"expected {count} message(s), got {len(self.messages)}"
        return list(self.messages)


@dataclass
class SmtpServer:
    """A running aiosmtpd server and what it received."""

    handler: StoringHandler
    host: str
    port: int

    def settings(self, **overrides: Any) -> SmtpSettings:
        """Settings of an e-mail channel that talks to this server."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": "none",
            "from_address": "双十镇赋权事项办理系统 <noreply@shanting.example>",
            "timeout_seconds": WAIT_SECONDS,
        }
        values.update(overrides)
        return SmtpSettings(**values)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_smtp(**kwargs: Any) -> Iterator[SmtpServer]:
    handler = StoringHandler()
    controller = Controller(
        handler, hostname="127.0.0.1", port=_free_port(), ready_timeout=WAIT_SECONDS, **kwargs
    )
    controller.start()
    try:
        yield SmtpServer(handler, controller.hostname, controller.port)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 and a free port, stopped after the test."""
    yield from _start_smtp()


def _authenticator(
    _server: Any, _session: Session, _envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        mechanism in {"LOGIN", "PLAIN"}
        and isinstance(auth_data, LoginPassword)
        and auth_data.login == b"notify"
        and auth_data.password == b"s3cret"
    )
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself


@pytest.fixture
def smtp_server_with_auth() -> Iterator[SmtpServer]:
    """An SMTP server that requires a login (allowed without TLS, on loopback only)."""
    yield from _start_smtp(authenticator=_authenticator, auth_required=True, auth_require_tls=False)


@dataclass
class FakeSmsGateway:
    """Implements the gateway's HTTP contract in memory (an ``httpx.MockTransport`` handler).

    Checks the API key header, stores every accepted request, answers ``{"messageId": ...}``, deduplicates
    on ``requestId`` like a real gateway would, and can be told to fail with a status (its error body then
    echoes the phone number, as careless gateways do).
    """

    api_key_header: str = "X-API-Key"
    fail_with: int | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    delivered: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        self.requests.append(request)
        if request.headers.get(self.api_key_header) != API_KEY:
            return httpx.Response(401, json={"error": "bad api key"})
        body = json.loads(request.content)
        if self.fail_with is not None:
            return httpx.Response(self.fail_with, json={"error": f"delivery to {body['phone']} failed"})
        self.delivered.setdefault(body["requestId"], body)
        return httpx.Response(200, json={"messageId": f"sms-{body['requestId']}"})

    def settings(self, **overrides: Any) -> SmsGatewaySettings:
        """Settings of an SMS channel that talks to this gateway."""
        values: dict[str, Any] = {
            "url": "https://sms-gateway.example/v1/messages",
            "api_key": SecretStr(API_KEY),
            "api_key_header": self.api_key_header,
            "sign_name": "山亭区政务服务",
        }
        values.update(overrides)
        return SmsGatewaySettings(**values)

    def channel(self) -> SmsChannel:
        """The real adapter, wired to this fake through an httpx mock transport."""
        return SmsChannel(self.settings(), transport=httpx.MockTransport(self))


@pytest.fixture
def renderer() -> TemplateRenderer:
    """The project's templates."""
    return TemplateRenderer(TEMPLATES_DIR, progress_base_url=PROGRESS_BASE)


def _message(
    renderer: TemplateRenderer, template: str = "accepted", job_key: int = JOB_KEY
) -> OutgoingMessage:
    return OutgoingMessage(
        job_key=job_key, template=template, content=renderer.render(template, CONTEXTS[template])
    )


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


# --------------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------------


def test_the_shipped_templates_are_exactly_the_documented_ones(renderer: TemplateRenderer) -> None:
    """config/templates holds the nine documented templates and each one parses."""
    assert set(renderer.names()) == set(CONTEXTS)
    renderer.check()


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_every_template_renders_in_chinese(renderer: TemplateRenderer, template: str) -> None:
    """Each template renders a Chinese subject, body and short SMS from a realistic context."""
    context = CONTEXTS[template]
    assert renderer.variables(template) <= set(context)
    message = renderer.render(template, context)

    for part in (message.subject, message.text, message.sms):
        assert _has_cjk(part)
        assert CASE_NUMBER in part
        assert "None" not in part
        assert "{{" not in part
        assert "{%" not in part
    assert "\n" not in message.subject
    assert "\n" not in message.sms
    assert message.html is None
    link = renderer.progress_url(CASE_NUMBER)
    sms_without_link = message.sms.replace(link, "")
    assert len(sms_without_link) <= SMS_LIMIT, (len(sms_without_link), message.sms)
    if template in APPLICANT_TEMPLATES:
        assert message.text.startswith(f"{context['applicant_name']}：")
        assert link in message.text
        assert link in message.sms
    else:
        assert message.text.startswith(f"{context['supervisor_group_name']}：")


def test_template_content_carries_the_required_facts(renderer: TemplateRenderer) -> None:
    """Key facts reach the text: time limit and due date, every missing material, reasons, seal owner."""
    accepted = renderer.render("accepted", CONTEXTS["accepted"]).text
    assert "3个工作日" in accepted
    assert "2025年6月17日" in accepted
    assert "西集镇便民服务中心" in accepted
    instant = renderer.render("accepted", {**CONTEXTS["accepted"], "time_limit_days": 0})
    assert "即办" in instant.text
    assert "即办" in instant.sms

    notice = renderer.render("materials-notice", CONTEXTS["materials-notice"])
    assert "1. 定点医疗机构出具的转诊转院证明" in notice.text
    assert "2. 居民身份证或社会保障卡" in notice.text
    assert "2025年6月20日" in notice.text
    assert "一次性告知" in notice.subject
    assert "2项材料" in notice.sms

    rejected = renderer.render("decision-rejected", CONTEXTS["decision-rejected"]).text
    assert "山医保不予〔2025〕0045号" in rejected
    assert "山亭区医疗保障局" in rejected
    assert "行政复议" in rejected
    assert "1. 转入医疗机构不属于异地联网定点医疗机构" in rejected

    red = renderer.render("alert-red", CONTEXTS["alert-red"])
    assert "超期督办" in red.subject
    assert "已超期2个工作日" in red.subject
    assert "2025年6月17日" in red.text  # 09:00 UTC is 17:00 in China, same day


def test_cn_date_reads_dates_datetimes_and_iso_strings_in_china_time() -> None:
    """cn_date formats dates as 2025年6月17日, taking aware datetimes in China time."""
    assert cn_date(date(2025, 6, 17)) == "2025年6月17日"
    assert cn_date("2025-06-17") == "2025年6月17日"
    assert cn_date("2025-06-16T18:00:00Z") == "2025年6月17日"
    assert cn_date(datetime(2025, 6, 16, 15, 59, tzinfo=UTC)) == "2025年6月16日"


def test_missing_variable_fails_naming_template_and_variable(renderer: TemplateRenderer) -> None:
    """A missing (or null) variable fails the render with the template and variable names."""
    context = {key: value for key, value in CONTEXTS["accepted"].items() if key != "due_date"}
    with pytest.raises(MissingVariableError) as caught:
        renderer.render("accepted", context)
    assert caught.value.template == "accepted"
    assert caught.value.variables == ("due_date",)
    assert "'accepted'" in str(caught.value)
    assert "due_date" in str(caught.value)

    with pytest.raises(MissingVariableError, match=r"'decision-approved'.*document_number"):
        renderer.render("decision-approved", {**CONTEXTS["decision-approved"], "document_number": None})


def test_progress_link_needs_the_case_number(renderer: TemplateRenderer) -> None:
    """The derived progress link makes case_number required and is never taken from the caller."""
    assert "progress_url" not in renderer.variables("accepted")
    with pytest.raises(MissingVariableError, match="case_number"):
        renderer.render("accepted", {k: v for k, v in CONTEXTS["accepted"].items() if k != "case_number"})
    forged = renderer.render(
        "accepted", {**CONTEXTS["accepted"], "progress_url": "https://evil.example/?n=张伟"}
    )
    assert "evil.example" not in forged.text
    assert renderer.progress_url("XJ 2025/1") == "https://zwfw.shanting.example/progress/XJ%202025%2F1"


def test_a_variable_of_the_wrong_type_fails_naming_the_template(renderer: TemplateRenderer) -> None:
    """A number where a list is expected fails with a TemplateRenderError naming template, file and line."""
    with pytest.raises(TemplateRenderError) as caught:
        renderer.render("materials-notice", {**CONTEXTS["materials-notice"], "missing_materials": 2})
    assert "'materials-notice'" in str(caught.value)
    assert "materials-notice/body.txt line" in str(caught.value)


def test_unknown_template_lists_the_known_ones(renderer: TemplateRenderer) -> None:
    """An unknown template name (or a path) fails with the list of known templates."""
    with pytest.raises(UnknownTemplateError) as caught:
        renderer.render("decision", CONTEXTS["accepted"])
    assert "'decision'" in str(caught.value)
    for name in CONTEXTS:
        assert name in str(caught.value)
    with pytest.raises(UnknownTemplateError):
        renderer.render("../templates/accepted", CONTEXTS["accepted"])
    with pytest.raises(UnknownTemplateError):
        renderer.render("_common", CONTEXTS["accepted"])


def test_nested_missing_attribute_names_it_and_the_line(tmp_path: Path) -> None:
    """A missing attribute inside a structured variable names the attribute, file and line."""
    folder = tmp_path / "notice"
    folder.mkdir()
    (folder / "subject.txt").write_text("补正通知 {{ case_number }}", encoding="utf-8")
    (folder / "body.txt").write_text(
        "{% for m in materials %}\n{{ m.name }}\n{% endfor %}\n", encoding="utf-8"
    )
    (folder / "sms.txt").write_text("请补正材料", encoding="utf-8")
    renderer = TemplateRenderer(tmp_path, progress_base_url=PROGRESS_BASE)
    with pytest.raises(MissingVariableError) as caught:
        renderer.render("notice", {"case_number": CASE_NUMBER, "materials": [{"id": "x"}]})
    assert caught.value.variables == ("name",)
    assert "notice/body.txt line 2" in str(caught.value)


def test_html_part_is_autoescaped_text_parts_are_not(tmp_path: Path) -> None:
    """An optional body.html is autoescaped; subject, body and SMS keep the text as given."""
    folder = tmp_path / "notice"
    folder.mkdir()
    (folder / "subject.txt").write_text("{{ item_name }}", encoding="utf-8")
    (folder / "body.txt").write_text("{{ item_name }}", encoding="utf-8")
    (folder / "sms.txt").write_text("{{ item_name }}", encoding="utf-8")
    (folder / "body.html").write_text("<p>{{ item_name }}</p>", encoding="utf-8")
    renderer = TemplateRenderer(tmp_path, progress_base_url=PROGRESS_BASE)
    message = renderer.render("notice", {"item_name": "<张挂&张贴>"})
    assert message.html == "<p>&lt;张挂&amp;张贴&gt;</p>"
    assert message.text == "<张挂&张贴>\n"
    assert message.subject == "<张挂&张贴>"


def test_context_from_variables_maps_camel_case_process_variables() -> None:
    """Process variables (camelCase) become template variables (snake_case)."""
    assert context_from_variables({"caseNumber": CASE_NUMBER, "timeLimitDays": 3}) == {
        "case_number": CASE_NUMBER,
        "time_limit_days": 3,
    }


# --------------------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------------------


async def test_email_arrives_via_smtp_with_utf8_subject_and_body(
    smtp_server: SmtpServer, renderer: TemplateRenderer
) -> None:
    """The e-mail channel delivers through real SMTP; the stdlib decodes the Chinese subject and body."""
    channel = EmailChannel(smtp_server.settings(message_id_domain="shanting.example"))
    message = _message(renderer)
    receipt = await channel.send(message, Recipients(email=EMAIL))

    [received] = smtp_server.handler.wait_for(1)
    assert received["Subject"] == message.content.subject
    assert received["To"] == EMAIL
    assert received["From"].addresses[0].display_name == "双十镇赋权事项办理系统"
    assert received["Message-ID"] == f"<job-{JOB_KEY}.accepted@shanting.example>"
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"
    body = received.get_content()
    assert body.replace("\r\n", "\n") == message.content.text
    assert "基本医疗保险参保人员异地就医备案" in body
    assert smtp_server.handler.envelopes == [("noreply@shanting.example", [EMAIL])]

    assert receipt.channel == "email"
    assert receipt.job_key == JOB_KEY
    assert receipt.recipient == "z***@example.com"
    assert receipt.message_id == received["Message-ID"]


# aiosmtpd warns that AUTH without TLS is unsafe; this server listens on loopback for this one test.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_email_channel_logs_in_with_the_configured_credentials(
    smtp_server_with_auth: SmtpServer, renderer: TemplateRenderer
) -> None:
    """Username and password from the settings are used to log in; a wrong password fails clearly."""
    good = EmailChannel(smtp_server_with_auth.settings(username="notify", password=SecretStr("s3cret")))
    await good.send(_message(renderer), Recipients(email=EMAIL))
    assert len(smtp_server_with_auth.handler.wait_for(1)) == 1

    bad = EmailChannel(smtp_server_with_auth.settings(username="notify", password=SecretStr("wrong")))
    with pytest.raises(ChannelError, match="SMTP delivery failed") as caught:
        await bad.send(_message(renderer), Recipients(email=EMAIL))
    assert "wrong" not in str(caught.value)
    assert EMAIL not in str(caught.value)
    assert len(smtp_server_with_auth.handler.messages) == 1


async def test_email_to_an_unreachable_server_fails_without_the_address(renderer: TemplateRenderer) -> None:
    """A refused connection raises ChannelError whose text holds no e-mail address."""
    settings = SmtpSettings(
        host="127.0.0.1", port=_free_port(), security="none", from_address="noreply@shanting.example"
    )
    with pytest.raises(ChannelError) as caught:
        await EmailChannel(settings).send(_message(renderer), Recipients(email=EMAIL))
    assert caught.value.channel == "email"
    assert EMAIL not in str(caught.value)


async def test_sms_adapter_posts_json_and_api_key_to_the_gateway(renderer: TemplateRenderer) -> None:
    """The SMS adapter POSTs {phone, text, signName, requestId} as JSON with the API key header."""
    gateway = FakeSmsGateway(api_key_header="X-Gateway-Key")
    channel = gateway.channel()
    message = _message(renderer)
    try:
        receipt = await channel.send(message, Recipients(mobile="+86 138-0000-1234"))
    finally:
        await channel.aclose()

    [request] = gateway.requests
    assert request.method == "POST"
    assert str(request.url) == "https://sms-gateway.example/v1/messages"
    assert request.headers["X-Gateway-Key"] == API_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "phone": PHONE,
        "text": message.content.sms,
        "signName": "山亭区政务服务",
        "requestId": str(JOB_KEY),
    }
    assert receipt.channel == "sms"
    assert receipt.recipient == "138****1234"
    assert receipt.message_id == f"sms-{JOB_KEY}"


async def test_sms_adapter_omits_sign_name_when_not_configured(renderer: TemplateRenderer) -> None:
    """Without a configured signature the body has no signName key."""
    gateway = FakeSmsGateway()
    channel = SmsChannel(gateway.settings(sign_name=None), transport=httpx.MockTransport(gateway))
    try:
        await channel.send(_message(renderer), Recipients(mobile=PHONE))
    finally:
        await channel.aclose()
    assert "signName" not in json.loads(gateway.requests[0].content)


@pytest.mark.parametrize("status", [500, 401])
async def test_sms_gateway_error_names_the_status_but_not_the_phone(
    renderer: TemplateRenderer, status: int
) -> None:
    """A non-2xx answer raises SmsGatewayError with the status; the phone number is not in the text."""
    gateway = FakeSmsGateway(fail_with=500)
    settings = gateway.settings(api_key=SecretStr(API_KEY if status == 500 else "wrong-key"))
    channel = SmsChannel(settings, transport=httpx.MockTransport(gateway))
    try:
        with pytest.raises(SmsGatewayError) as caught:
            await channel.send(_message(renderer), Recipients(mobile=PHONE))
    finally:
        await channel.aclose()
    assert caught.value.status_code == status
    assert f"HTTP {status}" in str(caught.value)
    assert PHONE not in str(caught.value)
    assert "wrong-key" not in str(caught.value)


async def test_outbox_writes_one_json_file_per_job(tmp_path: Path, renderer: TemplateRenderer) -> None:
    """The outbox writes <job key>-<template>.json (UTF-8, 0600) with the message and recipients."""
    outbox = OutboxChannel(tmp_path / "outbox")
    message = _message(renderer)
    receipt = await outbox.send(message, Recipients(email=EMAIL, mobile=PHONE))

    path = tmp_path / "outbox" / f"{JOB_KEY}-accepted.json"
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [path.name]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == OUTBOX_FORMAT
    assert document["jobKey"] == str(JOB_KEY)
    assert document["template"] == "accepted"
    assert document["recipients"] == {"email": EMAIL, "mobile": PHONE}
    assert document["subject"] == message.content.subject
    assert document["text"] == message.content.text
    assert document["sms"] == message.content.sms
    assert document["html"] is None
    assert datetime.fromisoformat(document["createdAt"]).tzinfo is not None
    assert receipt.message_id == path.name
    assert PHONE not in receipt.recipient
    assert EMAIL not in receipt.recipient


def test_recipients_are_normalised_and_invalid_ones_rejected_without_echo() -> None:
    """Mobile numbers are normalised, blanks are absent, and invalid values never appear in the error."""
    assert Recipients(mobile="138 0000 1234", email=" ").model_dump() == {"email": None, "mobile": PHONE}
    assert PHONE not in repr(Recipients(mobile=PHONE, email=EMAIL))
    with pytest.raises(ValidationError) as caught:
        Recipients(mobile="12345678901", email="not-an-address")
    assert "12345678901" not in str(caught.value)
    assert "not-an-address" not in str(caught.value)


# --------------------------------------------------------------------------------------------------
# Notifier: exactly once per job key and channel
# --------------------------------------------------------------------------------------------------


@dataclass
class Setup:
    """A notifier over the real SMTP server, the fake gateway and an outbox folder."""

    notifier: Notifier
    gateway: FakeSmsGateway
    outbox: Path
    sent_log: Path


@pytest.fixture
async def setup(smtp_server: SmtpServer, renderer: TemplateRenderer, tmp_path: Path) -> Any:
    """Notifier with outbox, e-mail and SMS channels; closed after the test."""
    gateway = FakeSmsGateway()
    outbox = tmp_path / "outbox"
    sent_log = tmp_path / "data" / "notify-sent.sqlite3"
    notifier = Notifier(
        [OutboxChannel(outbox), EmailChannel(smtp_server.settings()), gateway.channel()],
        SentLog(sent_log),
        renderer,
    )
    yield Setup(notifier, gateway, outbox, sent_log)
    await notifier.aclose()


RECIPIENTS = {"email": EMAIL, "mobile": PHONE}


async def test_redelivery_sends_nothing_twice_but_a_new_job_key_does(
    setup: Setup, smtp_server: SmtpServer
) -> None:
    """The same job key sends each channel once (stored receipts come back); a new job key sends again."""
    first = await setup.notifier.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], RECIPIENTS)
    assert [r.channel for r in first] == ["outbox", "email", "sms"]
    assert not any(r.duplicate for r in first)
    assert len(smtp_server.handler.wait_for(1)) == 1

    again = await setup.notifier.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], RECIPIENTS)
    assert all(r.duplicate for r in again)
    assert [r.model_copy(update={"duplicate": False}) for r in again] == first
    # aiosmtplib returns only after the server's 250, which follows the handler storing the message,
    # so a second e-mail would already be counted here.
    assert len(smtp_server.handler.messages) == 1
    assert len(setup.gateway.requests) == 1
    assert len(list(setup.outbox.iterdir())) == 1

    await setup.notifier.notify(JOB_KEY + 1, "accepted", CONTEXTS["accepted"], RECIPIENTS)
    assert len(smtp_server.handler.wait_for(2)) == 2
    assert len(setup.gateway.requests) == 2
    assert sorted(p.name for p in setup.outbox.iterdir()) == [
        f"{JOB_KEY}-accepted.json",
        f"{JOB_KEY + 1}-accepted.json",
    ]


async def test_sent_log_survives_a_restart(
    setup: Setup, smtp_server: SmtpServer, renderer: TemplateRenderer
) -> None:
    """A new notifier on the same sent-log file (a restarted worker) still skips a delivered job."""
    await setup.notifier.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], RECIPIENTS)
    gateway = FakeSmsGateway()
    restarted = Notifier(
        [OutboxChannel(setup.outbox), EmailChannel(smtp_server.settings()), gateway.channel()],
        SentLog(setup.sent_log),
        renderer,
    )
    try:
        receipts = await restarted.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], RECIPIENTS)
    finally:
        await restarted.aclose()
    assert [r.duplicate for r in receipts] == [True, True, True]
    assert len(smtp_server.handler.messages) == 1
    assert gateway.requests == []


async def test_only_channels_with_a_recipient_are_used(setup: Setup, smtp_server: SmtpServer) -> None:
    """Without a mobile number no SMS is sent; the outbox always gets the message."""
    receipts = await setup.notifier.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], {"email": EMAIL})
    assert [r.channel for r in receipts] == ["outbox", "email"]
    assert len(smtp_server.handler.wait_for(1)) == 1
    assert setup.gateway.requests == []

    receipts = await setup.notifier.notify(JOB_KEY + 1, "accepted", CONTEXTS["accepted"], {})
    assert [r.channel for r in receipts] == ["outbox"]


async def test_a_failed_channel_is_retried_alone(setup: Setup, smtp_server: SmtpServer) -> None:
    """When SMS fails the others are still sent; the job's retry sends only the SMS."""
    setup.gateway.fail_with = 503
    with pytest.raises(NotificationError) as caught:
        await setup.notifier.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], RECIPIENTS)
    assert list(caught.value.failures) == ["sms"]
    assert "HTTP 503" in str(caught.value)
    assert PHONE not in str(caught.value)
    assert len(smtp_server.handler.wait_for(1)) == 1

    setup.gateway.fail_with = None
    receipts = await setup.notifier.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], RECIPIENTS)
    assert [(r.channel, r.duplicate) for r in receipts] == [("outbox", True), ("email", True), ("sms", False)]
    assert len(smtp_server.handler.messages) == 1
    assert list(setup.gateway.delivered) == [str(JOB_KEY)]


async def test_concurrent_deliveries_of_one_job_send_once(setup: Setup, smtp_server: SmtpServer) -> None:
    """Two overlapping calls for the same job key (a redelivery racing the first) send one e-mail."""
    results = await asyncio.gather(
        setup.notifier.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], RECIPIENTS),
        setup.notifier.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], RECIPIENTS),
    )
    assert sorted(all(r.duplicate for r in result) for result in results) == [False, True]
    assert len(smtp_server.handler.wait_for(1)) == 1
    assert len(setup.gateway.requests) == 1


async def test_a_template_error_sends_nothing(setup: Setup, smtp_server: SmtpServer) -> None:
    """An unknown template or a missing variable fails before any channel sends."""
    with pytest.raises(UnknownTemplateError):
        await setup.notifier.notify(JOB_KEY, "decision", CONTEXTS["accepted"], RECIPIENTS)
    with pytest.raises(MissingVariableError, match="supplement_deadline"):
        await setup.notifier.notify(JOB_KEY, "materials-notice", CONTEXTS["accepted"], RECIPIENTS)
    assert smtp_server.handler.messages == []
    assert setup.gateway.requests == []
    assert not setup.outbox.exists()


async def test_logs_never_hold_a_phone_number_email_address_or_text(setup: Setup) -> None:
    """notify.sent / skipped_duplicate / failed events carry masked recipients and no message text."""
    with capture_logs() as logs:
        await setup.notifier.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], RECIPIENTS)
        await setup.notifier.notify(JOB_KEY, "accepted", CONTEXTS["accepted"], RECIPIENTS)
        setup.gateway.fail_with = 500
        with pytest.raises(NotificationError):
            await setup.notifier.notify(
                JOB_KEY + 1, "materials-notice", CONTEXTS["materials-notice"], RECIPIENTS
            )

    events = [(entry["event"], entry.get("channel")) for entry in logs]
    assert events.count(("notify.sent", "email")) == 2
    assert events.count(("notify.skipped_duplicate", "sms")) == 1
    assert events.count(("notify.failed", "sms")) == 1
    assert {entry["log_level"] for entry in logs if entry["event"] == "notify.failed"} == {"warning"}
    assert all(entry["job_key"] in {JOB_KEY, JOB_KEY + 1} for entry in logs)
    text = repr(logs)
    assert PHONE not in text
    assert EMAIL not in text
    assert "138****1234" in text
    assert "z***@example.com" in text
    assert "张伟" not in text
    assert "转诊转院证明" not in text


async def test_build_notifier_wires_the_configured_channels(
    smtp_server: SmtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings from SHUANGSHI_* variables give outbox, e-mail and SMS channels and a sent log in the data dir."""
    for name, value in {
        "SHUANGSHI_DATA_DIR": str(tmp_path / "data"),
        "SHUANGSHI_PROGRESS_BASE_URL": PROGRESS_BASE,
        "SHUANGSHI_SMTP_HOST": smtp_server.host,
        "SHUANGSHI_SMTP_PORT": str(smtp_server.port),
        "SHUANGSHI_SMTP_STARTTLS": "false",
        "SHUANGSHI_MAIL_FROM": "noreply@shanting.example",
        "SHUANGSHI_SMS_GATEWAY_URL": "https://sms-gateway.example/v1/messages",
        "SHUANGSHI_SMS_API_KEY": API_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    gateway = FakeSmsGateway()
    notifier = build_notifier(
        WorkerSettings(), templates_dir=TEMPLATES_DIR, sms_transport=httpx.MockTransport(gateway)
    )
    try:
        receipts = await notifier.notify(JOB_KEY, "forwarded", CONTEXTS["forwarded"], RECIPIENTS)
    finally:
        await notifier.aclose()
    assert [r.channel for r in receipts] == ["outbox", "email", "sms"]
    assert (tmp_path / "data" / "notify-sent.sqlite3").is_file()
    assert (tmp_path / "data" / "outbox" / f"{JOB_KEY}-forwarded.json").is_file()
    [received] = smtp_server.handler.wait_for(1)
    assert "区行政审批服务局" in received["Subject"]
    assert json.loads(gateway.requests[0].content)["requestId"] == str(JOB_KEY)
