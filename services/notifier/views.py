"""Health and metrics on the faust worker's web server (`SIGAP_NOTIFIER_PORT`)."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from services.notifier.runtime import Notifier

log = logging.getLogger(__name__)


def register(app: Any, notifier: Notifier) -> None:
    """`GET /healthz` (the process is up), `GET /readyz` (consuming, Redis answering) and `/metrics`."""

    @app.page("/healthz")  # type: ignore[untyped-decorator]  # faust is untyped
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "service": "notifier"})

    @app.page("/readyz")  # type: ignore[untyped-decorator]
    async def readyz(web: Any, request: Any) -> Any:
        checks = {
            "started": notifier.started,
            "partitions_assigned": app.rebalancing_count > 0 and not app.rebalancing,
            "redis": False,
        }
        if notifier.redis is not None:
            try:
                checks["redis"] = bool(await notifier.redis.ping())
            except RedisError:
                log.warning("readiness: Redis does not answer")
        ready = all(checks.values())
        return web.json({"status": "ready" if ready else "not ready", **checks}, status=200 if ready else 503)

    @app.page("/metrics")  # type: ignore[untyped-decorator]
    async def metrics(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset in `content_type`; Prometheus' type carries one, so send it as a header
        return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
