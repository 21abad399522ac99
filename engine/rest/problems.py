"""RFC 9457 problem details, shaped like the ones a Camunda 8 cluster returns."""

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.processor import Rejection, RejectionType

PROBLEM_MEDIA_TYPE = "application/problem+json"

_STATUS_BY_REJECTION = {
    RejectionType.NOT_FOUND: 404,
    RejectionType.INVALID_ARGUMENT: 400,
    RejectionType.INVALID_STATE: 409,
    RejectionType.ALREADY_EXISTS: 409,
    RejectionType.FORBIDDEN: 403,
}

_TITLE_BY_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "INVALID_STATE",
    500: "INTERNAL_ERROR",
}


class ApiProblem(Exception):  # noqa: N818 - a problem document, as RFC 9457 calls it
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, detail: str, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _TITLE_BY_STATUS.get(status, "ERROR")


def problem_response(request: Request, status: int, title: str, detail: str) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    headers = {"WWW-Authenticate": 'Basic realm="camunda"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_path(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    messages = [f"'{_field_path(tuple(e['loc']))}': {e['msg']}" for e in exc.errors()]
    return problem_response(request, 400, "INVALID_ARGUMENT", "Invalid request: " + "; ".join(messages))


async def on_api_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)  # noqa: S101 - registered for this type only
    return problem_response(request, exc.status, exc.title, exc.detail)


async def on_rejection(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Rejection)  # noqa: S101 - registered for this type only
    status = _STATUS_BY_REJECTION[exc.type]
    return problem_response(request, status, exc.type.value, exc.message)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    status = exc.status_code
    return problem_response(request, status, _TITLE_BY_STATUS.get(status, "ERROR"), str(exc.detail))
