"""`/api/v1/offers/{id}/accept|decline`: an answer the ops room received by phone or radio."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from schemas.api import OfferAnswerAccepted
from services.gateway import commands
from services.gateway.auth import Operator
from services.gateway.context import GatewayDep
from services.gateway.errors import AUTH_ERRORS, CONFLICT, NOT_FOUND, UNAVAILABLE, VALIDATION_ERRORS

router = APIRouter(
    prefix="/api/v1/offers",
    tags=["offers"],
    responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT, **UNAVAILABLE, **VALIDATION_ERRORS},
)

OfferId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post(
    "/{offer_id}/accept", status_code=202, response_model=OfferAnswerAccepted, summary="Record an accept"
)
async def accept_offer(offer_id: OfferId, gw: GatewayDep, who: Operator) -> OfferAnswerAccepted:
    """409 when the offer is no longer `offered` (answered, expired, withdrawn)."""
    ref = await commands.offer_for(gw, offer_id)
    await commands.act_on_offer(gw, ref, "accept", via="ops_room", by=who.label)
    return OfferAnswerAccepted(offer_id=offer_id, status="accepted")


@router.post(
    "/{offer_id}/decline", status_code=202, response_model=OfferAnswerAccepted, summary="Record a decline"
)
async def decline_offer(offer_id: OfferId, gw: GatewayDep, who: Operator) -> OfferAnswerAccepted:
    ref = await commands.offer_for(gw, offer_id)
    await commands.act_on_offer(gw, ref, "decline", via="ops_room", by=who.label)
    return OfferAnswerAccepted(offer_id=offer_id, status="declined")
