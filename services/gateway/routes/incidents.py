"""`/api/v1/incidents`: post, list, show, cancel, close, assess (kaji cepat) (DESIGN.md §5)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Header, Path, Query

from schemas.api import (
    AssessmentAccepted,
    AssessmentBody,
    CancelBody,
    CloseBody,
    IncidentAccepted,
    IncidentCommandAccepted,
    IncidentCreate,
    IncidentList,
    IncidentView,
)
from schemas.events import AssessmentReport
from services.gateway import commands
from services.gateway.auth import Operator
from services.gateway.context import GatewayDep
from services.gateway.errors import (
    AUTH_ERRORS,
    CONFLICT,
    NOT_FOUND,
    UNAVAILABLE,
    VALIDATION_ERRORS,
    not_found,
)

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses={**AUTH_ERRORS, **UNAVAILABLE})

IncidentId = Annotated[str, Path(min_length=1, max_length=64, description="e.g. INC-20261128-0K3F9A7Z")]
StatusFilter = Literal["open", "reported", "dispatching", "staffed", "understaffed", "closed", "cancelled"]


@router.post(
    "",
    status_code=202,
    response_model=IncidentAccepted,
    summary="Report an incident",
    responses={**VALIDATION_ERRORS, **CONFLICT},
)
async def post_incident(
    body: IncidentCreate,
    gw: GatewayDep,
    who: Operator,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="a retried post with the same key answers the same incident id",
        ),
    ] = None,
) -> IncidentAccepted:
    """Answers 202 once the broker has the `incident.reported` event. The kelurahan is derived from the
    location when absent; without `needs` the dispatcher applies the run card of the type and severity."""
    incident_id, _ = await commands.post_incident(gw, body, by=who.label, idempotency_key=idempotency_key)
    return IncidentAccepted(id=incident_id)


@router.get("", response_model=IncidentList, summary="List incidents", responses=VALIDATION_ERRORS)
async def list_incidents(
    gw: GatewayDep,
    _: Operator,
    status: Annotated[
        StatusFilter | None, Query(description="an incident status, or `open` for every open one")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> IncidentList:
    """Newest first."""
    return IncidentList(items=await gw.reads.incidents(status, limit))


@router.get("/{incident_id}", response_model=IncidentView, summary="Show an incident", responses=NOT_FOUND)
async def get_incident(incident_id: IncidentId, gw: GatewayDep, _: Operator) -> IncidentView:
    view = await gw.reads.incident(incident_id)
    if view is None:
        raise not_found("incident", incident_id)
    return view


@router.post(
    "/{incident_id}/cancel",
    status_code=202,
    response_model=IncidentCommandAccepted,
    summary="Cancel an open incident",
    responses={**NOT_FOUND, **CONFLICT, **VALIDATION_ERRORS},
)
async def cancel_incident(
    incident_id: IncidentId,
    gw: GatewayDep,
    who: Operator,
    body: Annotated[CancelBody | None, Body()] = None,
) -> IncidentCommandAccepted:
    """Open offers are withdrawn and assigned volunteers released (the dispatcher tells them)."""
    await commands.cancel_incident(gw, incident_id, reason=body.reason if body else "", by=who.label)
    return IncidentCommandAccepted(id=incident_id, action="cancel")


@router.post(
    "/{incident_id}/close",
    status_code=202,
    response_model=IncidentCommandAccepted,
    summary="Close an open incident",
    responses={**NOT_FOUND, **CONFLICT, **VALIDATION_ERRORS},
)
async def close_incident(
    incident_id: IncidentId,
    gw: GatewayDep,
    who: Operator,
    body: Annotated[CloseBody | None, Body()] = None,
) -> IncidentCommandAccepted:
    await commands.close_incident(gw, incident_id, note=body.note if body else "", by=who.label)
    return IncidentCommandAccepted(id=incident_id, action="close")


@router.post(
    "/{incident_id}/assessments",
    status_code=202,
    response_model=AssessmentAccepted,
    summary="Record a rapid assessment (kaji cepat)",
    responses={**NOT_FOUND, **CONFLICT, **VALIDATION_ERRORS},
)
async def assess_incident(
    incident_id: IncidentId, body: AssessmentBody, gw: GatewayDep, who: Operator
) -> AssessmentAccepted:
    """What TRC's kaji cepat found, entered by the ops room on their behalf (the TRC volunteer's link
    page posts the same). Every field is optional, but at least one is given. The dispatcher grows the
    incident's needs by the assessment rules and offers the new slots at once; the latest assessment
    and what it added show on the incident and the board."""
    report = AssessmentReport.model_validate(body.model_dump(exclude_unset=True))
    event_id = await commands.assess_incident(gw, incident_id, report, via="ops_room", by=who.label)
    return AssessmentAccepted(id=incident_id, event_id=event_id)
