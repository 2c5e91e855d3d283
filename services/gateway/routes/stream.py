"""`/api/v1/stream`: Server-Sent Events relaying the read models' change notices to the board."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from services.gateway.auth import Operator
from services.gateway.context import Gateway, GatewayDep
from services.gateway.errors import AUTH_ERRORS

router = APIRouter(prefix="/api/v1", tags=["stream"], responses=AUTH_ERRORS)

HEARTBEAT_S = 15.0


def sse(data: str, event: str = "change") -> str:
    """One SSE frame; the notice is re-encoded compactly so it fits a single `data:` line."""
    try:
        compact = json.dumps(json.loads(data), separators=(",", ":"))
    except ValueError:
        compact = json.dumps({"kind": "unknown", "id": ""})
    return f"event: {event}\ndata: {compact}\n\n"


async def _events(gw: Gateway, heartbeat_s: float) -> AsyncIterator[str]:
    gw.metrics.sse_clients.inc()
    try:
        async with gw.hub.subscribe() as queue:
            yield "retry: 3000\n: connected\n\n"
            while True:
                try:
                    data = await asyncio.wait_for(queue.get(), heartbeat_s)
                except TimeoutError:
                    yield ": ping\n\n"  # keeps proxies from closing an idle stream; detects gone clients
                    continue
                yield sse(data)
    finally:
        gw.metrics.sse_clients.dec()


@router.get(
    "/stream",
    summary="Live change notices (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "`event: change` frames"}},
)
async def stream(request: Request, gw: GatewayDep, _: Operator) -> StreamingResponse:
    """Each `event: change` carries `{"kind": "incident"|"volunteer"|"alert"|"outbox"|"resync", "id"}`;
    a client refetches what changed (everything on `resync`). A comment line every 15 s keeps it open."""
    heartbeat_s = float(getattr(request.app.state, "sse_heartbeat_s", HEARTBEAT_S))
    return StreamingResponse(
        _events(gw, heartbeat_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
