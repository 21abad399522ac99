"""The applicants' portal (FastAPI): the target of the 进度查询 link in every notification.

Routes (the progress ones need ``?t=<token>``, see :mod:`workers.portal.access`):

``GET /healthz``
    Liveness for the container's health check: 200 ``{"status": "ok"}`` while the process serves,
    without reading the ledger or calling the gateway.
``GET /progress/{caseNumber}``
    进度查询: JSON (:func:`workers.portal.progress.public_progress`), or a small Chinese HTML page when the
    request's ``Accept`` names ``text/html`` (a browser following the link). The page offers the rating
    form once the case is closed and not yet rated.
``POST /progress/{caseNumber}/rating``
    好差评: JSON ``{"score": 1..5, "comment": "…"}`` or the page's form fields; does what ``shuangshi rate``
    does (:func:`workers.rating.process.submit_rating`). Answers 201 with the outcome (``followUp``,
    the 整改 deadline) once the ledger has recorded it, 202 when the workers have not recorded it yet, 422
    naming the field for bad input, 409 when the case is not closed or already rated, 503 when the gateway
    cannot be reached. A form post that succeeds is redirected (303) to the progress page.

A missing or wrong token, an unknown case and a malformed case number all get the same 404, so the
portal does not tell whether a case exists. Answers carry no personal data (the ledger holds none),
are not cached (``Cache-Control: no-store``) and send no referrer (the link holds the token). There is no
rate limit: tokens are 256-bit HMACs, which cannot be guessed; put a rate limit in the reverse proxy if
the portal is exposed to the internet. FastAPI's generated docs are off.
"""

import asyncio
import re
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import grpc
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pyzeebe import ZeebeClient
from pyzeebe.errors import ZeebeError

from workers.catalog.loader import config_dir
from workers.catalog.models import Catalog
from workers.ledger import CHINA_TZ, CaseView, Ledger
from workers.logging import get_logger
from workers.portal.access import ProgressTokens
from workers.portal.progress import public_progress
from workers.rating import MAX_COMMENT_LENGTH, RatingError, parse_rating
from workers.rating.process import RatingOutcome, submit_rating

__all__ = ["NOT_FOUND_TEXT", "PAGE_TEMPLATE", "Portal", "create_app"]

_log = get_logger(__name__)

#: The page template, in ``<config dir>/portal/``: progress, rating form and refusals (autoescaped).
PAGE_TEMPLATE: Final = "page.html"

NOT_FOUND_TEXT: Final = (
    "未找到该办件，或查询链接不完整、已失效。请使用通知中的完整链接，或凭办件编号到受理窗口查询。"
)
_CASE_NUMBER_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
}
#: Chinese messages for applicants, by RatingError reason (and field, for bad input).
_REFUSALS: Final[Mapping[str, str]] = {
    "score": "请选择 1 到 5 分的评分。",
    "comment": f"评价内容须为不超过 {MAX_COMMENT_LENGTH} 字的文字。",
    "unknown-case": NOT_FOUND_TEXT,
    "not-closed": "该办件尚未办结（或不予受理、已撤回），办结后才能评价。",
    "already-rated": "该办件已经评价过，每个办件只能评价一次。",
}
_REFUSAL_STATUS: Final[Mapping[str, int]] = {
    "invalid": 422,
    "unknown-case": 404,
    "not-closed": 409,
    "already-rated": 409,
}
_UNAVAILABLE_TEXT: Final = "评价服务暂时不可用，请稍后再试。"
_SCORE_NAMES: Final = {1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意"}


def _cn_day(value: object) -> str:
    """``2025-10-24`` or an ISO date-time (taken in China time) as ``2025年10月24日``."""
    if not isinstance(value, str) or not value:
        return ""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHINA_TZ)
    return f"{moment.year}年{moment.month}月{moment.day}日"


def _environment(directory: Path) -> Environment:
    """The page templates of ``directory`` (``page.html``), autoescaped, strict about missing variables."""
    if not (directory / PAGE_TEMPLATE).is_file():
        raise FileNotFoundError(f"no portal page template {directory / PAGE_TEMPLATE} (SHUANGSHI_CONFIG_DIR)")
    environment = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["cn_day"] = _cn_day
    return environment


@dataclass
class Portal:
    """What the portal reads and talks to: the ledger, the catalog, the tokens and the Zeebe gateway.

    ``rating_wait_seconds`` is how long a rating waits for the ledger to record it before answering 202.
    """

    ledger: Ledger
    catalog: Catalog
    tokens: ProgressTokens
    zeebe: ZeebeClient
    rating_wait_seconds: float = 10.0
    #: Folder of ``page.html``; default ``<config dir>/portal``.
    templates_dir: Path | None = None
    _locks: "weakref.WeakValueDictionary[str, asyncio.Lock]" = field(
        default_factory=weakref.WeakValueDictionary, repr=False
    )

    def lock(self, case_number: str) -> asyncio.Lock:
        """One lock per case, so that a double-clicked rating is checked after the first one finished."""
        lock = self._locks.get(case_number)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[case_number] = lock
        return lock


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _page(request: Request, status: int, **context: Any) -> HTMLResponse:
    templates: Environment = request.app.state.templates
    defaults: dict[str, Any] = {
        "progress": None,
        "message": "",
        "back": None,
        "rating_action": "",
        "score_names": _SCORE_NAMES,
        "max_comment": MAX_COMMENT_LENGTH,
    }
    html = templates.get_template(PAGE_TEMPLATE).render({**defaults, **context})
    return HTMLResponse(html, status_code=status)


def _progress_path(request: Request, case_number: str, token: str, suffix: str = "") -> str:
    """``/progress/<case>[suffix]?t=<token>`` under the application's root path."""
    root = request.scope.get("root_path", "")
    return f"{root}/progress/{quote(case_number, safe='')}{suffix}?t={quote(token, safe='')}"


def _refusal(request: Request, status: int, message: str, **extra: Any) -> Response:
    if _wants_html(request):
        back = None
        if status != 404:
            back = _progress_path(
                request, request.path_params["case_number"], request.query_params.get("t", "")
            )
        return _page(
            request, status, title="无法完成" if status != 404 else "未找到办件", message=message, back=back
        )
    return JSONResponse({"detail": message, **extra}, status_code=status)


def _not_found(request: Request) -> Response:
    return _refusal(request, 404, NOT_FOUND_TEXT)


async def _case(portal: Portal, request: Request, case_number: str) -> CaseView | None:
    """The case when the request carries its token and the ledger knows it; else None (answer 404)."""
    if not _CASE_NUMBER_RE.fullmatch(case_number):
        return None
    if not portal.tokens.matches(case_number, request.query_params.get("t")):
        return None
    return await asyncio.to_thread(portal.ledger.case, case_number)


async def _rating_input(request: Request) -> tuple[object, object]:
    """``score`` and ``comment`` from a JSON body or form fields; RatingError when the body is neither."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await request.form()
        return form.get("score"), form.get("comment")
    try:
        body = await request.json()
    except ValueError:
        raise RatingError("invalid", "body: not a JSON object {score, comment}", "score") from None
    if not isinstance(body, dict):
        raise RatingError("invalid", "body: not a JSON object {score, comment}", "score")
    return body.get("score"), body.get("comment")


def _outcome_json(outcome: RatingOutcome) -> dict[str, Any]:
    data = outcome.to_json()
    del data["processInstanceKey"]  # internal: applicants have no use for the engine's keys
    return data


def create_app(portal: Portal) -> FastAPI:
    """The portal application over ``portal``'s ledger, catalog, tokens and gateway."""
    app = FastAPI(title="双十镇办件进度查询", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.templates = _environment(portal.templates_dir or config_dir() / "portal")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/progress/{case_number}")
    async def progress(case_number: str, request: Request) -> Response:
        view = await _case(portal, request, case_number)
        if view is None:
            return _not_found(request)
        data = public_progress(view, portal.catalog)
        if not _wants_html(request):
            return JSONResponse(data)
        action = _progress_path(request, case_number, portal.tokens.token(case_number), "/rating")
        return _page(request, 200, title="办件进度查询", progress=data, rating_action=action)

    @app.post("/progress/{case_number}/rating")
    async def rate(case_number: str, request: Request) -> Response:
        view = await _case(portal, request, case_number)
        if view is None:
            return _not_found(request)
        try:
            score, comment = await _rating_input(request)
            rating = parse_rating(score, comment)
            async with portal.lock(case_number):
                outcome = await submit_rating(
                    portal.zeebe,
                    portal.ledger,
                    portal.catalog,
                    case_number,
                    rating,
                    wait_seconds=portal.rating_wait_seconds,
                )
        except RatingError as exc:
            status = _REFUSAL_STATUS[exc.reason]
            message = _REFUSALS.get(exc.field or exc.reason, NOT_FOUND_TEXT)
            extra = {"field": exc.field} if exc.field else {"reason": exc.reason}
            return _refusal(request, status, message, **extra)
        except (ZeebeError, grpc.aio.AioRpcError) as exc:
            _log.error("portal.gateway_unavailable", case_number=case_number, error=type(exc).__name__)
            return _refusal(request, 503, _UNAVAILABLE_TEXT)
        _log.info("portal.rated", case_number=case_number, score=rating.score, state=outcome.state)
        if outcome.state == "duplicate":
            return _refusal(request, 409, _REFUSALS["already-rated"], reason="already-rated")
        if _wants_html(request):
            back = _progress_path(request, case_number, portal.tokens.token(case_number))
            return RedirectResponse(back, status_code=303)
        return JSONResponse(_outcome_json(outcome), status_code=202 if outcome.state == "pending" else 201)

    return app
