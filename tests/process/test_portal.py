"""The applicants' portal against the running system: the notification's link, the token, 进度查询 as JSON
and HTML, and 好差评 posted to the rating process."""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest

from tests.engine.conftest import wait_for
from tests.process.conftest import System
from tests.process.test_rating import (
    DIRECT_ITEM,
    closed_case,
    len_is,
    open_case,
    rated_events,
    rating_instances,
)
from tests.process.test_time_and_failures import outbox
from workers.application.samples import sample_application
from workers.portal.access import ProgressTokens, load_secret
from workers.portal.app import NOT_FOUND_TEXT, Portal, create_app

pytestmark = pytest.mark.zeebe  # scenario tests: also run on a real cluster with ``pytest -m zeebe``

HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}


@dataclass
class Client:
    http: httpx.AsyncClient
    tokens: ProgressTokens

    def url(self, case_number: str, suffix: str = "") -> str:
        return f"/progress/{quote(case_number)}{suffix}?t={self.tokens.token(case_number)}"


@pytest.fixture
async def portal(system: System) -> AsyncIterator[Client]:
    """The portal app on the system's ledger and gateway, with the secret the system's notifier used."""
    tokens = ProgressTokens(load_secret(system.data_dir))
    app = create_app(
        Portal(
            ledger=system.ledger,
            catalog=system.catalog,
            tokens=tokens,
            zeebe=system.zeebe,
            rating_wait_seconds=30,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
        yield Client(http, tokens)


async def test_the_notification_link_opens_the_progress_and_nothing_else_does(
    system: System, portal: Client
) -> None:
    """The accepted notice's link answers 200; no token, a wrong or another case's token, an unknown case: 404."""
    case_number = await closed_case(system)
    [accepted] = outbox(system, "*-accepted.json")
    match = re.search(r"/progress/([^?\s]+)\?t=([A-Za-z0-9_-]{43})", accepted.read_text("utf-8"))
    assert match is not None
    assert match.group(1) == case_number
    assert (await portal.http.get(match.group(0))).status_code == 200

    other = await closed_case(system, town="sangcun")
    refused = [
        f"/progress/{case_number}",
        f"/progress/{case_number}?t=",
        f"/progress/{case_number}?t={match.group(2)[:-1]}A",
        f"/progress/{case_number}?t={portal.tokens.token(other)}",
        portal.url("XJ-20990101-0001"),
        portal.url("not a case"),
    ]
    for url in refused:
        response = await portal.http.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"detail": NOT_FOUND_TEXT}, url
    wrong = await portal.http.post(
        f"/progress/{case_number}/rating?t={portal.tokens.token(other)}", json={"score": 1}
    )
    assert wrong.status_code == 404
    assert await rating_instances(system) == []


async def test_progress_json_shows_the_case_and_no_personal_data(system: System, portal: Client) -> None:
    """Status, item, town, dates, stage and decision of the case, nothing of the applicant or other cases."""
    case_number = await closed_case(system)
    other = await closed_case(system, town="sangcun")
    response = await portal.http.get(portal.url(case_number))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    data = response.json()
    view = system.ledger.case(case_number)
    assert view is not None
    assert data["caseNumber"] == case_number
    assert (data["status"], data["statusName"], data["stage"]) == ("completed", "已办结（准予）", "已办结")
    assert data["item"] == {"code": DIRECT_ITEM, "name": system.catalog.item(DIRECT_ITEM).name}
    assert data["town"] == {"code": "xiji", "name": "西集镇"}
    assert data["acceptedDate"] == data["acceptedAt"][:10]
    assert data["dueAt"] is not None
    assert data["dueDate"] == data["dueAt"][:10]
    assert data["decision"]["outcome"] == "approved"
    assert data["decision"]["outcomeName"] == "准予"
    assert data["rating"] == {"rated": False, "canRate": True}
    applicant = sample_application(system.catalog, DIRECT_ITEM, "xiji", "town")["applicant"]
    for value in (applicant["name"], applicant["idNumber"], applicant["mobile"], other, "sangcun", "桑村镇"):
        assert value not in response.text, value


async def test_rating_posted_to_the_portal_opens_the_follow_up(system: System, portal: Client) -> None:
    """POST score 2: 201 with the 整改 for the town and its deadline, the task opens; a second POST is 409."""
    case_number = await closed_case(system)
    response = await portal.http.post(
        portal.url(case_number, "/rating"), json={"score": 2, "comment": "等了很久，电话13812345678"}
    )
    assert response.status_code == 201, response.text
    data = response.json()
    assert (data["caseNumber"], data["score"], data["state"], data["followUp"]) == (
        case_number,
        2,
        "recorded",
        True,
    )
    assert data["rectification"]["townCode"] == "xiji"
    assert data["rectification"]["dueAt"] is not None
    assert "processInstanceKey" not in data
    await wait_for(lambda: len_is(rating_instances(system), 1), message="the rating instance")
    [instance] = await rating_instances(system)
    task = await system.task(int(instance.process_instance_key), "rectification")
    assert task.candidate_groups == ["town:xiji"]
    [rated] = rated_events(system, case_number)
    assert rated.payload["comment"] == "等了很久，电话138****5678"

    progress = (await portal.http.get(portal.url(case_number))).json()
    assert progress["rating"]["rated"] is True
    assert progress["rating"]["score"] == 2
    assert progress["rating"]["rectification"]["status"] == "in-progress"
    assert progress["rating"]["rectification"]["dueAt"] == data["rectification"]["dueAt"]

    again = await portal.http.post(portal.url(case_number, "/rating"), json={"score": 5})
    assert again.status_code == 409
    assert again.json()["reason"] == "already-rated"
    assert len(await rating_instances(system)) == 1


async def test_portal_refuses_bad_ratings_naming_the_field(system: System, portal: Client) -> None:
    """Score 0 or "x", a 501-character comment, a non-JSON body: 422 naming the field; an open case: 409."""
    case_number = await closed_case(system)
    for body, field in (
        ({"score": 0}, "score"),
        ({"score": "x"}, "score"),
        ({"score": 3, "comment": "慢" * 501}, "comment"),
    ):
        response = await portal.http.post(portal.url(case_number, "/rating"), json=body)
        assert response.status_code == 422, body
        assert response.json()["field"] == field
    not_json = await portal.http.post(
        portal.url(case_number, "/rating"), content=b"score=3", headers={"Content-Type": "text/plain"}
    )
    assert not_json.status_code == 422
    open_case(system, "XJ-20250101-0099")
    busy = await portal.http.post(portal.url("XJ-20250101-0099", "/rating"), json={"score": 3})
    assert busy.status_code == 409
    assert busy.json()["reason"] == "not-closed"
    assert await rating_instances(system) == []


async def test_html_page_renders_and_its_form_rates(system: System, portal: Client) -> None:
    """A browser gets a Chinese page with the rating form; the form post redirects back to "您已评价"."""
    case_number = await closed_case(system)
    page = await portal.http.get(portal.url(case_number), headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for text in ("办件进度查询", case_number, "西集镇", "已办结（准予）", "准予", "提交评价"):
        assert text in page.text, text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None
    assert action.group(1) == portal.url(case_number, "/rating")

    posted = await portal.http.post(action.group(1), data={"score": "5", "comment": "很满意"}, headers=HTML)
    assert posted.status_code == 303
    assert posted.headers["location"] == portal.url(case_number)
    after = await portal.http.get(posted.headers["location"], headers=HTML)
    assert "您已评价：5 分" in after.text
    assert "提交评价" not in after.text

    missing = await portal.http.get(f"/progress/{case_number}", headers=HTML)
    assert missing.status_code == 404
    assert "未找到该办件" in missing.text
