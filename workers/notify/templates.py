"""Notification templates: Jinja2 files in ``config/templates/<name>/``, rendered with strict variables.

Layout (see ``config/templates/README.md``)::

    config/templates/
        _common/             shared fragments (``{% include "_common/applicant_footer.txt" %}``)
        accepted/
            subject.txt      e-mail subject (one line; line breaks are collapsed)
            body.txt         e-mail plain-text body
            sms.txt          SMS text (short; the gateway adds the signature)
            body.html        optional HTML alternative of the e-mail body (autoescaped)

A folder whose name starts with ``_`` or ``.`` is not a template. Every variable a template uses is
required: a missing (or null) one fails the render with an error naming the template and the variables.
Only ``.html`` files are autoescaped; the text parts are sent as plain text.

``progress_url`` is derived, never taken from the caller: ``<progress base URL>/<case number>``, plus
``?t=<token>`` when the renderer has a token function (the portal's HMAC of the case number,
:mod:`workers.portal.access`), so a link in a message carries the case number, its token and nothing personal.

Filters: ``cn_date`` (a date, a datetime or an ISO string → ``2025年7月10日``, datetimes in China time) and
``shorten(n)`` (cut to ``n`` characters with ``…``, for SMS texts).
"""

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    meta,
    select_autoescape,
)

from workers.notify.models import RenderedMessage, mask_contacts

__all__ = [
    "BODY_FILE",
    "HTML_FILE",
    "SMS_FILE",
    "SUBJECT_FILE",
    "MissingVariableError",
    "TemplateRenderError",
    "TemplateRenderer",
    "UnknownTemplateError",
    "cn_date",
    "shorten",
]

SUBJECT_FILE: Final = "subject.txt"
BODY_FILE: Final = "body.txt"
SMS_FILE: Final = "sms.txt"
HTML_FILE: Final = "body.html"
_REQUIRED_PARTS: Final = (SUBJECT_FILE, BODY_FILE, SMS_FILE)

#: Variables the renderer computes; a template using one requires these context variables instead.
_DERIVED: Final[Mapping[str, frozenset[str]]] = {"progress_url": frozenset({"case_number"})}

_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9-]*$")
_CHINA_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")


class TemplateRenderError(Exception):
    """A notification could not be rendered (unknown template, missing variable, broken template file)."""


class UnknownTemplateError(TemplateRenderError, LookupError):
    """No template of that name; the message lists the known ones."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(
            f"unknown notification template {name!r}; known: {', '.join(self.known) or '(none)'}"
        )


class MissingVariableError(TemplateRenderError):
    """The context lacks variables the template uses; ``variables`` names them."""

    def __init__(self, template: str, variables: Iterable[str], detail: str = "") -> None:
        self.template = template
        self.variables = tuple(variables)
        self.detail = detail
        super().__init__(template, *self.variables)

    def __str__(self) -> str:
        names = ", ".join(self.variables)
        text = f"template {self.template!r} is missing variable(s): {names}"
        return f"{text} ({self.detail})" if self.detail else text


def _to_china_date(value: object) -> date:
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            value = datetime.fromisoformat(text)
    if isinstance(value, datetime):
        return value.astimezone(_CHINA_TZ).date() if value.tzinfo is not None else value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"cn_date expects a date, a datetime or an ISO string, not {type(value).__name__}")


def cn_date(value: object) -> str:
    """``2025年7月10日`` for a date, a datetime (taken in China time) or an ISO 8601 string."""
    day = _to_china_date(value)
    return f"{day.year}年{day.month}月{day.day}日"


def shorten(value: object, length: int) -> str:
    """``value`` as text, cut to ``length`` characters with a trailing ``…`` when longer."""
    text = str(value)
    return text if len(text) <= length else text[: max(length - 1, 0)] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class TemplateRenderer:
    """Renders the templates of one folder; thread-safe (the Jinja environment is shared)."""

    def __init__(
        self,
        directory: Path,
        *,
        progress_base_url: str,
        progress_token: Callable[[str], str] | None = None,
    ) -> None:
        if not progress_base_url.startswith(("http://", "https://")):
            raise ValueError(f"progress base URL must be http(s), got {progress_base_url!r}")
        if "?" in progress_base_url or "#" in progress_base_url:
            raise ValueError("progress base URL must not contain a query or fragment")
        self.directory = directory
        self.progress_base_url = progress_base_url.rstrip("/")
        self._progress_token = progress_token
        self._env = Environment(
            loader=FileSystemLoader(directory, encoding="utf-8"),
            undefined=StrictUndefined,
            autoescape=select_autoescape(
                enabled_extensions=("html", "htm"), default_for_string=False, default=False
            ),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=True,
        )
        self._env.filters["cn_date"] = cn_date
        self._env.filters["shorten"] = shorten

    def names(self) -> tuple[str, ...]:
        """The template names: sub-folders holding a subject, a body and an SMS text, sorted."""
        if not self.directory.is_dir():
            return ()
        return tuple(
            sorted(
                entry.name
                for entry in self.directory.iterdir()
                if entry.is_dir()
                and _NAME_RE.match(entry.name)
                and all((entry / part).is_file() for part in _REQUIRED_PARTS)
            )
        )

    def progress_url(self, case_number: str) -> str:
        """The applicant's progress link for a case: the base URL, the case number and (with a token
        function) ``?t=`` its access token, nothing else."""
        url = f"{self.progress_base_url}/{quote(case_number, safe='')}"
        if self._progress_token is None:
            return url
        return f"{url}?t={quote(self._progress_token(case_number), safe='')}"

    def _parts(self, name: str) -> list[str]:
        if not _NAME_RE.match(name) or name not in self.names():
            raise UnknownTemplateError(name, self.names())
        parts = [f"{name}/{part}" for part in _REQUIRED_PARTS]
        if (self.directory / name / HTML_FILE).is_file():
            parts.append(f"{name}/{HTML_FILE}")
        return parts

    def variables(self, name: str) -> frozenset[str]:
        """The context variables template ``name`` requires (following includes; derived ones resolved)."""
        found: set[str] = set()
        seen: set[str] = set()
        pending = self._parts(name)
        while pending:
            path = pending.pop()
            if path in seen:
                continue
            seen.add(path)
            try:
                source, _, _ = self._env.loader.get_source(self._env, path)  # type: ignore[union-attr]
                tree = self._env.parse(source, name=path, filename=path)
            except TemplateNotFound as exc:
                raise TemplateRenderError(f"template {name!r}: included file {exc.name!r} not found") from exc
            except TemplateSyntaxError as exc:
                raise TemplateRenderError(
                    f"template {name!r}: syntax error in {path} line {exc.lineno}: {exc.message}"
                ) from exc
            found |= meta.find_undeclared_variables(tree)
            pending.extend(ref for ref in meta.find_referenced_templates(tree) if ref is not None)
        for derived, sources in _DERIVED.items():
            if derived in found:
                found.discard(derived)
                found |= sources
        return frozenset(found)

    def check(self) -> None:
        """Parse every template (for start-up and tests); raise on the first broken one."""
        for name in self.names():
            self.variables(name)

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedMessage:
        """Render template ``name``; a missing or null variable raises :class:`MissingVariableError`."""
        parts = self._parts(name)
        missing = sorted(var for var in self.variables(name) if context.get(var) is None)
        if missing:
            given = ", ".join(sorted(k for k, v in context.items() if v is not None)) or "(none)"
            raise MissingVariableError(name, missing, f"given: {given}")
        values = dict(context)
        if context.get("case_number") is not None:
            values["progress_url"] = self.progress_url(str(context["case_number"]))
        rendered: dict[str, str] = {}
        for path in parts:
            try:
                rendered[path.rpartition("/")[2]] = self._env.get_template(path).render(values)
            except UndefinedError as exc:
                where = _template_location(exc.__traceback__, self.directory)
                raise MissingVariableError(name, [_undefined_name(exc)], f"{exc.message}{where}") from None
            except TemplateSyntaxError as exc:
                raise TemplateRenderError(
                    f"template {name!r}: syntax error in {exc.name} line {exc.lineno}: {exc.message}"
                ) from exc
            except TemplateNotFound as exc:
                raise TemplateRenderError(f"template {name!r}: included file {exc.name!r} not found") from exc
            except (TypeError, ValueError) as exc:  # a variable of the wrong type (a number for a list, …)
                where = _template_location(exc.__traceback__, self.directory)
                raise TemplateRenderError(
                    f"template {name!r}: a variable has the wrong type{where}: "
                    f"{type(exc).__name__}: {mask_contacts(str(exc))}"
                ) from None
        return RenderedMessage(
            subject=_one_line(rendered[SUBJECT_FILE]),
            text=rendered[BODY_FILE].strip() + "\n",
            sms=_one_line(rendered[SMS_FILE]),
            html=rendered.get(HTML_FILE),
        )


_UNDEFINED_RE: Final = re.compile(r"^'(?P<name>[^']+)' is undefined$|has no attribute '(?P<attr>[^']+)'")


def _undefined_name(exc: UndefinedError) -> str:
    match = _UNDEFINED_RE.search(exc.message or "")
    if match is None:
        return "?"
    return match.group("name") or match.group("attr")


def _template_location(traceback: TracebackType | None, directory: Path) -> str:
    """`` in accepted/body.txt line 3`` for the innermost template frame of a Jinja traceback."""
    root = directory.resolve()
    where = ""
    while traceback is not None:
        filename = Path(traceback.tb_frame.f_code.co_filename).resolve()
        if filename.is_relative_to(root):
            where = f" in {filename.relative_to(root).as_posix()} line {traceback.tb_lineno}"
        traceback = traceback.tb_next
    return where
