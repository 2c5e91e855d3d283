"""The worker's web endpoints (faust's web server on SIGAP_DISPATCHER_PORT): health and metrics."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.dispatcher.agents import runtime
from services.dispatcher.app import app


@app.page("/healthz")
async def healthz(web: Any, request: Any) -> Any:
    """200 while the worker runs and Redis answers; 503 otherwise."""
    try:
        await runtime().redis.ping()
    except Exception as exc:  # any failure to reach Redis means unhealthy
        return web.json({"status": "unhealthy", "redis": repr(exc)[:200]}, status=503)
    return web.json({"status": "ok", "app": app.conf.id})


@app.page("/metrics")
async def metrics(web: Any, request: Any) -> Any:
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.page("/livez")
async def livez(web: Any, request: Any) -> Any:
    """200 while the worker's event loop answers: the liveness probe. It does not ask Redis, so a Redis
    blip makes the worker unready (`/healthz`) without getting it restarted."""
    return web.json({"status": "alive", "app": app.conf.id})
