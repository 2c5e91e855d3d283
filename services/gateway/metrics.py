"""Prometheus metrics of the gateway (`GET /metrics`), in a registry of the app's own so several apps
(tests) can live in one process."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.heap import watch_collector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        watch_collector(self.registry)  # the garbage collector's pauses
        self.requests = Counter(
            "sigap_gateway_requests_total",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sigap_gateway_request_seconds",
            "HTTP request duration (to the first byte of a stream)",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.published = Counter(
            "sigap_gateway_events_published_total",
            "events the broker acknowledged, by topic and type",
            ["topic", "event_type"],
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "sigap_gateway_publish_failures_total",
            "events the broker did not acknowledge in time",
            ["topic"],
            registry=self.registry,
        )
        self.sse_clients = Gauge(
            "sigap_gateway_sse_clients", "open Server-Sent Events streams", registry=self.registry
        )
        self.idempotent_replays = Counter(
            "sigap_gateway_idempotent_replays_total",
            "incident posts answered from an earlier post with the same Idempotency-Key",
            registry=self.registry,
        )
        self.inbound = Counter(
            "sigap_gateway_inbound_messages_total",
            "volunteers' messages received on the webhooks (issue 18), by channel and what became of them",
            ["channel", "result"],
            registry=self.registry,
        )


class MetricsMiddleware:
    """Counts and times every request by its route template (not its raw path: ids would explode
    the label set)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        timed = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, timed
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if not timed:
                    timed = True
                    self.metrics.latency.labels(scope["method"], _route(scope)).observe(
                        time.perf_counter() - start
                    )
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.requests.labels(scope["method"], _route(scope), str(status)).inc()


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "(unmatched)"
