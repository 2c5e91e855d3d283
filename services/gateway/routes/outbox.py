"""`/api/v1/outbox`: what the `outbox` channel holds (admin: the messages carry response links)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from schemas.api import OutboxList
from services.gateway.auth import Admin
from services.gateway.context import GatewayDep
from services.gateway.errors import AUTH_ERRORS, UNAVAILABLE, VALIDATION_ERRORS

router = APIRouter(
    prefix="/api/v1", tags=["outbox"], responses={**AUTH_ERRORS, **UNAVAILABLE, **VALIDATION_ERRORS}
)


@router.get("/outbox", response_model=OutboxList, summary="Messages held by the outbox channel")
async def outbox(
    gw: GatewayDep,
    _: Admin,
    volunteer_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OutboxList:
    """Newest first; one volunteer's with `volunteer_id`."""
    return OutboxList(items=await gw.reads.outbox(volunteer_id, limit))
