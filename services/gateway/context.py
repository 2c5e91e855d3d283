"""What every request handler of the gateway shares: settings, adapters and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from redis.asyncio import Redis

from services.common.readmodels import Keys
from services.gateway.auth import Authenticator, LoginThrottle
from services.gateway.changes import ChangeHub
from services.gateway.idempotency import IdempotencyStore
from services.gateway.metrics import Metrics
from services.gateway.publisher import EventPublisher
from services.gateway.reads import ReadModels
from services.gateway.settings import GatewaySettings


@dataclass
class Gateway:
    settings: GatewaySettings
    keys: Keys
    redis: Redis
    reads: ReadModels
    publisher: EventPublisher
    idem: IdempotencyStore
    hub: ChangeHub
    auth: Authenticator
    throttle: LoginThrottle
    metrics: Metrics
    templates: Jinja2Templates
    clock: Callable[[], datetime]


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
