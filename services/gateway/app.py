"""The gateway's FastAPI application: settings → adapters → routes. Nothing happens at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from schemas.api import ErrorBody
from schemas.fields import utcnow
from services.common.readmodels import Keys
from services.common.redis import redis_for
from services.gateway import errors
from services.gateway.auth import Authenticator, LoginThrottle
from services.gateway.bmkg import api as bmkg
from services.gateway.changes import ChangeHub
from services.gateway.context import Gateway
from services.gateway.idempotency import IdempotencyStore
from services.gateway.limits import BodyLimit
from services.gateway.metrics import Metrics, MetricsMiddleware
from services.gateway.pages import STATIC, make_templates
from services.gateway.publisher import EventPublisher
from services.gateway.reads import ReadModels
from services.gateway.reports.service import Reports
from services.gateway.routes import (
    board,
    health,
    incidents,
    links,
    offers,
    outbox,
    reports,
    stream,
    volunteers,
    webhooks,
)
from services.gateway.settings import GatewaySettings, get_gateway_settings

log = logging.getLogger(__name__)

MAX_BODY = 2 * 1024 * 1024

DESCRIPTION = """The HTTP edge of Sigap, the volunteer dispatch service of Dinas Sosial Kota Kediri.

Authenticate with `Authorization: Bearer <key>` (keys from `SIGAP_API_KEYS`; roles operator <
coordinator < admin). Every error is `{"error": {"code", "message", "details"}}`. Writes answer `202`
once the event is on the broker; reads come from the read models the dispatcher keeps.
"""


def create_app(settings: GatewaySettings | None = None, *, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    settings = settings or get_gateway_settings()
    keys = Keys(settings.redis_prefix)
    metrics = Metrics()
    redis = redis_for(settings, "gateway")
    gateway = Gateway(
        settings=settings,
        keys=keys,
        redis=redis,
        reads=ReadModels(redis, keys, clock),
        publisher=EventPublisher(settings, metrics),
        idem=IdempotencyStore(redis, keys),
        hub=ChangeHub(redis, keys.changes),
        auth=Authenticator(settings, clock),
        throttle=LoginThrottle(),
        metrics=metrics,
        templates=make_templates(),
        clock=clock,
    )
    report_service = Reports(settings, clock)  # issue 20: the report projection and its store

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.publisher.start()
        report_service.start()
        await bmkg.start(app, gateway)  # the BMKG pollers, when SIGAP_BMKG_POLL is on
        log.info(
            "gateway up on %s:%s (topics %s*, redis prefix %s)",
            settings.http_host,
            settings.http_port,
            settings.topic_prefix,
            settings.redis_prefix,
        )
        try:
            yield
        finally:
            await bmkg.stop(app, gateway)
            await report_service.stop()
            await gateway.hub.aclose()
            await gateway.publisher.stop()
            await redis.aclose()

    app = FastAPI(
        title="Sigap gateway",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={
            **errors.MALFORMED,
            500: {"model": ErrorBody, "description": "unexpected error (logged)"},
        },
    )
    app.state.gateway = gateway
    app.state.reports = report_service
    errors.install(app)
    app.add_exception_handler(links.PageError, links.on_page_error)
    app.add_exception_handler(board.SignInRequired, board.on_sign_in_required)
    # the largest body is a BMKG CAP document; everything else is far smaller
    app.add_middleware(BodyLimit, max_bytes=max(MAX_BODY, settings.bmkg_max_document_bytes + 65536))
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    for module in (incidents, offers, volunteers, outbox, stream, health, links, board, webhooks):
        app.include_router(module.router)
    app.include_router(reports.router)
    app.include_router(reports.pages)
    app.include_router(bmkg.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/board", status_code=307)

    return app
