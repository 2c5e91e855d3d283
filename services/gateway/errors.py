"""Every error the API answers is `{"error": {"code", "message", "details"}}` (`schemas.api.ErrorBody`).

`ApiError` is what handlers raise; the exception handlers installed by `install` turn it, FastAPI's
validation errors, Starlette's HTTP errors (404 for unknown paths, 405, …) and anything unexpected into
that body. The HTML pages (`/r/`, `/v/`, `/board`) answer an HTML page instead of JSON.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from schemas.api import ErrorBody, ErrorDetail
from schemas.errors import SigapError

log = logging.getLogger(__name__)


class ApiError(SigapError):
    """An error answer. `retriable` tells the client a retry may succeed (503, 429)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        retriable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
        self.retriable = retriable


class BrokerUnavailable(ApiError):
    """Kafka did not acknowledge in time: nothing is promised, the client should retry."""

    def __init__(self, message: str = "the event broker did not acknowledge; retry shortly") -> None:
        super().__init__(503, "broker_unavailable", message, headers={"Retry-After": "5"}, retriable=True)


class StoreUnavailable(ApiError):
    """Redis (the read models) did not answer."""

    def __init__(self, message: str = "the read-model store did not answer; retry shortly") -> None:
        super().__init__(503, "store_unavailable", message, headers={"Retry-After": "5"}, retriable=True)


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} {ident!r} not found", {"id": ident})


def conflict(code: str, message: str, **details: Any) -> ApiError:
    return ApiError(409, code, message, details or None)


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}

_PAGE_PREFIXES = ("/r/", "/v/")  # a volunteer's phone: always a page
_HTML_PREFIXES = ("/board",)  # the board's fetch calls want JSON, its pages HTML


def error_json(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic / FastAPI errors as `[{field, location, message, type}]` (no inputs: they may hold PII)."""
    out: list[dict[str, Any]] = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
        parts = loc[1:] if loc and loc[0] == where else loc
        out.append(
            {
                "field": ".".join(parts) or where,
                "location": where,
                "message": str(err.get("msg", "invalid")),
                "type": str(err.get("type", "value_error")),
            }
        )
    return out


def validation_error(errors: Sequence[Any]) -> ApiError:
    details = field_errors(errors)
    names = ", ".join(dict.fromkeys(d["field"] for d in details))
    return ApiError(422, "validation_error", f"invalid request: {names}", details)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(_PAGE_PREFIXES):
        return True
    return path.startswith(_HTML_PREFIXES) and "text/html" in request.headers.get("accept", "")


def _html_error(request: Request, status: int, message: str) -> Response:
    from services.gateway.pages import error_page

    return error_page(request, status, message)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)  # noqa: S101 - registered for ApiError only
    if _wants_html(request):
        return _html_error(request, exc.status, exc.message)
    return error_json(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    err = validation_error(exc.errors())
    if _wants_html(request):
        return _html_error(request, 422, err.message)
    return error_json(err.status, err.code, err.message, err.details)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it only
    code = _CODES.get(exc.status_code, "error")
    message = str(exc.detail) if exc.detail else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such path: {request.url.path}"
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    if _wants_html(request):
        page = _html_error(request, exc.status_code, message)
        page.headers.update(headers)
        return page
    return error_json(exc.status_code, code, message, headers=headers or None)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


_TOKEN_PATH = re.compile(r"(/[rv]/)([A-Za-z0-9_\-]{6})[^/?#\s\"]*")


def redact(text: str) -> str:
    """Link paths shown as `/r/abcdef…`: a whole token is a key to someone's offer; never log one."""
    return _TOKEN_PATH.sub(r"\1\2…", text)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, redact(request.url.path), exc_info=exc)
    message = "internal error; it has been logged"
    if _wants_html(request):
        return _html_error(request, 500, message)
    return error_json(500, "internal_error", message)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


MALFORMED: dict[int | str, dict[str, Any]] = {400: _doc("a request body that cannot be parsed")}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _doc("missing or unknown API key"),
    403: _doc("the key's role is too low"),
}
VALIDATION_ERRORS: dict[int | str, dict[str, Any]] = {
    422: _doc("invalid request; `details` names the fields")
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _doc("no such resource")}
CONFLICT: dict[int | str, dict[str, Any]] = {409: _doc("the resource is not in a state that allows this")}
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {"text/html": {}}}
    for status, description in (
        (400, "a forged, malformed or mismatched link, or an unknown action"),
        (403, "the form's CSRF field is missing or wrong"),
        (404, "the offer or volunteer is not known"),
        (409, "the offer is no longer in a state that allows this answer"),
        (410, "the link has expired or was revoked"),
        (422, "a field of the form is invalid"),
        (503, "Kafka or Redis did not answer; try again"),
    )
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: _doc("Kafka or Redis did not answer; retry (see Retry-After)")
}
