"""The gateway's FastAPI application: settings → adapters → routes. Nothing happens at import time."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from types import ModuleType
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from schemas.api import ErrorBody
from schemas.fields import utcnow
from services.common.config import Settings, get_settings
from services.common.readmodels import Keys
from services.common.redis import redis_for
from services.gateway import errors
from services.gateway.auth import Authenticator, LoginThrottle
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

log = logging.getLogger(__name__)

MAX_BODY = 2 * 1024 * 1024

DESCRIPTION = """The HTTP edge of Sigap, the volunteer dispatch service of Dinas Sosial Kota Kediri.

Authenticate with `Authorization: Bearer <key>` (keys from `SIGAP_API_KEYS`; roles operator <
coordinator < admin). Every error is `{"error": {"code", "message", "details"}}`. Writes answer `202`
once the event is on the broker; reads come from the read models the dispatcher keeps.
"""


def _bmkg() -> ModuleType | None:
    """The BMKG weather endpoints and pollers (`services/gateway/bmkg/api.py`), when present."""
    try:
        return importlib.import_module("services.gateway.bmkg.api")
    except ImportError as exc:
        if exc.name and not exc.name.startswith("services.gateway.bmkg"):
            raise  # a real missing dependency inside the BMKG module: do not hide it
        log.info("BMKG endpoints not available (%s)", exc)
        return None


async def _call_hook(module: ModuleType | None, names: tuple[str, ...], *args: Any) -> None:
    if module is None:
        return
    for name in names:
        hook: Callable[..., Any] | None = getattr(module, name, None)
        if hook is None:
            continue
        params = inspect.signature(hook).parameters
        result = hook(*args[: len(params)])
        if inspect.isawaitable(result):
            await result
        return


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    settings = settings or get_settings()
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
    bmkg = _bmkg()
    report_service = Reports(settings, clock)  # issue 20: the report projection and its store

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.publisher.start()
        report_service.start()
        await _call_hook(bmkg, ("start", "start_pollers"), app, gateway)
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
            await _call_hook(bmkg, ("stop", "stop_pollers"), app, gateway)
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
    if bmkg is not None and hasattr(bmkg, "router"):
        app.include_router(bmkg.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/board", status_code=307)

    return app
