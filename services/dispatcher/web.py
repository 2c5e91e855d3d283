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


@app.page("/assignment")
async def assignment(web: Any, request: Any) -> Any:
    """The partitions this worker holds now, by topic: which worker handles which incidents."""
    actives: dict[str, list[int]] = {}
    for tp in sorted(app.assignor.assigned_actives()):
        actives.setdefault(tp.topic, []).append(tp.partition)
    return web.json({"actives": actives})


@app.page("/livez")
async def livez(web: Any, request: Any) -> Any:
    """200 while the worker's event loop answers: the liveness probe. It does not ask Redis, so a Redis
    blip makes the worker unready (`/healthz`) without getting it restarted."""
    return web.json({"status": "alive", "app": app.conf.id})
