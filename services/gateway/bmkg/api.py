"""HTTP endpoints of the weather and earthquake alerts (DESIGN.md §5, §6).

- `POST /api/v1/weather/cap` (operator): a CAP 1.2 XML document (`Content-Type: application/xml`,
  `text/xml` or `application/cap+xml`). 202 once the `weather-alerts` event is acknowledged by the broker
  (`issued`, `updated`, `cancelled`); 200 when nothing is published (`ignored`: no Kota Kediri kelurahan
  affected, not an actual alert…; `duplicate`: already received); 413 over the size limit; 415 for
  another content type; 422 for a document that is not well-formed, hostile (DTD, entities), not CAP 1.2,
  invalid or expired; 503 when Kafka or Redis does not answer.
- `GET /api/v1/weather/alerts` (operator): the active alerts from the dispatcher's read models
  (`alerts:active`, `alert:{id}`); `?all=true` adds the recent cancelled and expired ones.

The gateway includes `router` (built with its `services.gateway.auth.require`); `build_router` takes any
`require_role(role) -> dependency` for other hosts. Handlers read `request.app.state.gateway`
(`settings`, `redis`, `publisher.publish(topic_name, event)`, `clock()`). The gateway's lifespan calls
`start(app, gateway)` / `stop(app, gateway)`, which run the pollers when `SIGAP_BMKG_POLL` is on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.api import ErrorBody, WeatherAlertList, WeatherAlertView, WeatherCapResult
from services.common.readmodels import Keys
from services.gateway.auth import require
from services.gateway.bmkg import metrics, poller
from services.gateway.bmkg.errors import FeedError
from services.gateway.bmkg.ingest import Result
from services.gateway.bmkg.poller import TopicPublisher, new_ingestor
from services.gateway.bmkg.store import AlertStore
from services.gateway.errors import ApiError, StoreUnavailable
from services.gateway.reads import alert_views
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

XML_TYPES = frozenset({"application/xml", "text/xml", "application/cap+xml"})
LIST_LIMIT = 200


class MetricsState(Protocol):
    @property
    def registry(self) -> CollectorRegistry: ...


class GatewayState(Protocol):
    """What these handlers and the lifespan hooks use of `app.state.gateway` (read-only, so the
    gateway's own publisher and metrics qualify)."""

    @property
    def settings(self) -> GatewaySettings: ...
    @property
    def redis(self) -> Redis: ...
    @property
    def publisher(self) -> TopicPublisher: ...
    @property
    def metrics(self) -> MetricsState: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes before reading them all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        message = f"the document is {declared} bytes, the limit is {limit}"
        raise ApiError(413, "payload_too_large", message, {"limit": limit})
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(
                413, "payload_too_large", f"the document is over the limit of {limit} bytes", {"limit": limit}
            )
    return bytes(body)


def _answer(result: Result) -> JSONResponse:
    body = WeatherCapResult(
        alert_id=result.alert_id,
        status=result.status,
        affected_kelurahan=list(result.affected.kelurahan),
        affected_kecamatan=list(result.affected.kecamatan),
        reason=result.reason,
    )
    published = result.status in ("issued", "updated", "cancelled")
    return JSONResponse(body.model_dump(mode="json"), status_code=202 if published else 200)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


_CAP_BODY = {
    "requestBody": {
        "required": True,
        "description": "A CAP 1.2 document (urn:oasis:names:tc:emergency:cap:1.2), as BMKG publishes it",
        "content": {t: {"schema": {"type": "string"}} for t in sorted(XML_TYPES)},
    }
}


def build_router(require_role: Callable[[Literal["operator"]], Any]) -> APIRouter:
    """The weather routes, guarded by `require_role("operator")`."""
    router = APIRouter(prefix="/api/v1/weather", tags=["weather"])
    operator = [Depends(require_role("operator"))]

    @router.post(
        "/cap",
        status_code=202,
        response_model=WeatherCapResult,
        dependencies=operator,
        summary="Submit a CAP 1.2 warning",
        openapi_extra=_CAP_BODY,
        responses={
            200: {"model": WeatherCapResult, "description": "nothing published: ignored or duplicate"},
            401: _error("missing or unknown API key"),
            403: _error("the key's role is too low"),
            413: _error("the document is over SIGAP_BMKG_MAX_DOCUMENT_BYTES"),
            415: _error("not an XML content type"),
            422: _error("not well-formed, hostile (DTD/entities), not CAP 1.2, invalid or expired"),
            503: _error("Kafka or Redis did not answer; retry"),
        },
    )
    async def post_cap(request: Request) -> JSONResponse:
        state = _state(request)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in XML_TYPES:
            raise ApiError(
                415,
                "unsupported_media_type",
                f"send the CAP document as {', '.join(sorted(XML_TYPES))}, not {media_type or 'nothing'}",
            )
        limit = state.settings.bmkg_max_document_bytes
        body = await _read_body(request, limit)
        ingestor = new_ingestor(state.settings, state.publisher, state.redis, state.clock)
        try:
            result = await ingestor.cap_document(body, origin="api")
        except FeedError as exc:
            status = 413 if exc.code == "too_large" else 422
            raise ApiError(status, f"cap_{exc.code}", exc.reason, {"reason": exc.reason}) from None
        except (RedisError, OSError) as exc:
            log.warning("Redis error while ingesting a CAP document: %s", exc)
            raise StoreUnavailable() from exc
        if result.status == "ignored" and result.code == "expired":
            details = {"reason": result.reason, "alert_id": result.alert_id}
            raise ApiError(422, "cap_expired", result.reason, details)
        return _answer(result)

    @router.get(
        "/alerts",
        response_model=WeatherAlertList,
        dependencies=operator,
        summary="Weather and earthquake alerts for Kota Kediri",
        responses={
            401: _error("missing or unknown API key"),
            403: _error("the key's role is too low"),
            503: _error("Redis did not answer; retry"),
        },
    )
    async def list_alerts(
        request: Request,
        include_all: Annotated[
            bool, Query(alias="all", description="also the recent cancelled and expired alerts")
        ] = False,
    ) -> WeatherAlertList:
        state = _state(request)
        try:
            views = await read_alerts(state.redis, state.settings, state.clock(), include_all=include_all)
        except (RedisError, OSError) as exc:
            log.warning("Redis error while reading alerts: %s", exc)
            raise StoreUnavailable() from exc
        return WeatherAlertList(items=views)

    return router


async def read_alerts(
    redis: Redis, settings: GatewaySettings, now: datetime, *, include_all: bool = False
) -> list[WeatherAlertView]:
    """Alerts from `alert:{id}` (written by the dispatcher), newest first; an active one whose `expires`
    has passed is shown as expired (and left out unless `include_all`)."""
    keys = Keys(settings.redis_prefix)
    ids: list[str] = [str(i) for i in await redis.zrange(keys.active_alerts, 0, LIST_LIMIT - 1)]
    if include_all:
        store = AlertStore(redis, settings.redis_prefix, settings.bmkg_seen_ttl_s)
        ids += await store.recent(LIST_LIMIT)
    ids = list(dict.fromkeys(ids))
    views: list[WeatherAlertView] = []
    for view in await alert_views(redis, keys, ids):
        past = view.status == "active" and view.expires is not None and view.expires <= now
        shown = view.model_copy(update={"status": "expired"}) if past else view
        if include_all or shown.status == "active":
            views.append(shown)
    views.sort(key=lambda v: v.sent, reverse=True)
    return views[:LIST_LIMIT]


router = build_router(require)


# --- lifespan hooks: the gateway's app.py calls `start(app, gateway)` and `stop(app, gateway)` ----


async def start(app: FastAPI, gateway: GatewayState) -> None:
    """Start the BMKG pollers (only when SIGAP_BMKG_POLL is on) with the gateway's publisher and Redis,
    and put the BMKG counters on the gateway's /metrics."""
    metrics.register_in(gateway.metrics.registry)
    app.state.bmkg_pollers = await poller.start_pollers(
        gateway.settings, gateway.publisher, gateway.redis, clock=gateway.clock
    )


async def stop(app: FastAPI, gateway: GatewayState) -> None:
    pollers: poller.Pollers | None = getattr(app.state, "bmkg_pollers", None)
    if pollers is not None:
        await pollers.stop()
        app.state.bmkg_pollers = None
