"""`/api/v1/volunteers`: the roster (upsert, list, show), duty changes and self-service links."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from schemas.api import (
    DutyChange,
    SelfServiceLink,
    VolunteerAccepted,
    VolunteerList,
    VolunteerUpsert,
    VolunteerView,
)
from schemas.vocabulary import Unit, VolunteerStatus
from services.common.links import LinkClaims, sign
from services.gateway import commands
from services.gateway.auth import Coordinator, Operator
from services.gateway.context import Gateway, GatewayDep
from services.gateway.errors import AUTH_ERRORS, NOT_FOUND, UNAVAILABLE, VALIDATION_ERRORS, not_found

router = APIRouter(
    prefix="/api/v1/volunteers",
    tags=["volunteers"],
    responses={**AUTH_ERRORS, **UNAVAILABLE, **VALIDATION_ERRORS},
)

VolunteerId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
SELF_LINK_TTL = timedelta(days=180)


@router.post("", status_code=202, response_model=VolunteerAccepted, summary="Register or update a volunteer")
async def upsert_volunteer(body: VolunteerUpsert, gw: GatewayDep, _: Coordinator) -> VolunteerAccepted:
    """Without `id` a new volunteer is registered with a fresh id; with the id of a known volunteer the
    whole profile is replaced (a last shared location is kept when the body has none)."""
    volunteer_id, event = await commands.upsert_volunteer(gw, body)
    return VolunteerAccepted(id=volunteer_id, event=event)


@router.get("", response_model=VolunteerList, summary="List the roster")
async def list_volunteers(
    *,
    gw: GatewayDep,
    _: Operator,
    unit: Unit | None = None,
    status: VolunteerStatus | None = None,
    kelurahan_code: Annotated[str | None, Query(max_length=20, description="home kelurahan")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> VolunteerList:
    """In id order."""
    items = await gw.reads.volunteers(
        unit=unit, status=status, kelurahan_code=kelurahan_code, limit=limit, offset=offset
    )
    return VolunteerList(items=items)


@router.get("/{volunteer_id}", response_model=VolunteerView, summary="Show a volunteer", responses=NOT_FOUND)
async def get_volunteer(volunteer_id: VolunteerId, gw: GatewayDep, _: Operator) -> VolunteerView:
    view = await gw.reads.volunteer(volunteer_id)
    if view is None:
        raise not_found("volunteer", volunteer_id)
    return view


@router.post(
    "/{volunteer_id}/duty",
    status_code=202,
    response_model=VolunteerAccepted,
    summary="Go on or off duty, share a location",
    responses=NOT_FOUND,
)
async def change_duty(
    volunteer_id: VolunteerId, body: DutyChange, gw: GatewayDep, _: Operator
) -> VolunteerAccepted:
    await commands.change_duty(
        gw,
        volunteer_id,
        on_duty=body.on_duty,
        location=body.location,
        allow_outside_area=body.allow_outside_area,
    )
    return VolunteerAccepted(id=volunteer_id, event="volunteer.duty_changed")


def issue_self_link(gw: Gateway, volunteer_id: str, generation: int) -> SelfServiceLink:
    expires_at = gw.clock() + SELF_LINK_TTL
    claims = LinkClaims(kind="self", volunteer_id=volunteer_id, expires_at=expires_at, generation=generation)
    token = sign(claims, gw.settings.link_secret)
    url = f"{gw.settings.public_url.rstrip('/')}/v/{token}"
    return SelfServiceLink(volunteer_id=volunteer_id, url=url, expires_at=expires_at, generation=generation)


@router.post(
    "/{volunteer_id}/link",
    status_code=201,
    response_model=SelfServiceLink,
    summary="Issue a volunteer's self-service link",
    responses=NOT_FOUND,
)
async def issue_link(volunteer_id: VolunteerId, gw: GatewayDep, _: Coordinator) -> SelfServiceLink:
    """A personal link (`/v/{token}`) to go on or off duty and share a location from the phone. Valid
    until it expires or a coordinator revokes the volunteer's links."""
    entry = await commands.roster_entry(gw, volunteer_id)
    return issue_self_link(gw, volunteer_id, entry.link_generation)


@router.delete(
    "/{volunteer_id}/link",
    status_code=204,
    summary="Revoke a volunteer's self-service links",
    responses=NOT_FOUND,
)
async def revoke_links(volunteer_id: VolunteerId, gw: GatewayDep, who: Coordinator) -> Response:
    """Every self-service link issued so far stops working: the link generation, part of the
    volunteer's profile on the `volunteers` topic, moves on (`volunteer.links_revoked`)."""
    await commands.revoke_links(gw, volunteer_id, by=who.label)
    return Response(status_code=204)
