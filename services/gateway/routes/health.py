"""`/healthz` (the process answers), `/readyz` (Kafka and Redis answer), `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from services.gateway.context import Gateway, GatewayDep
from services.gateway.errors import UNAVAILABLE, error_json

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _redis_ok(gw: Gateway) -> bool:
    try:
        return bool(await asyncio.wait_for(gw.redis.ping(), 3.0))
    except (RedisError, OSError, TimeoutError):
        return False


@router.get("/readyz", summary="Readiness: Kafka and Redis reachable", responses=UNAVAILABLE)
async def readyz(gw: GatewayDep) -> Response:
    kafka, redis = await asyncio.gather(gw.publisher.ready(), _redis_ok(gw))
    checks: dict[str, Any] = {
        "kafka": "ok" if kafka else "unreachable",
        "redis": "ok" if redis else "unreachable",
    }
    if kafka and redis:
        return JSONResponse({"status": "ready", "checks": checks})
    down = ", ".join(name for name, state in checks.items() if state != "ok")
    return error_json(503, "not_ready", f"not ready: {down} unreachable", checks, {"Retry-After": "5"})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(gw: GatewayDep) -> Response:
    return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)
