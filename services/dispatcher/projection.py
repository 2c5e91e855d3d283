"""The incident read model (`schemas.api.IncidentView`) projected from the dispatcher's state. Pure.

Built with `model_construct`: every value comes from the validated `IncidentState` with the view's
own types, so validating it again (on every save) would only cost time; a unit test checks that the
view validates and serialises exactly as a validated one."""

from __future__ import annotations

from schemas import reference
from schemas.api import AssignmentView, IncidentView, NeedView
from services.dispatcher.incident import IncidentState


def incident_view(state: IncidentState) -> IncidentView:
    try:
        place = reference.kelurahan(state.kelurahan_code)
        kelurahan_name, kecamatan_name = place.name, place.kecamatan_name
    except KeyError:
        kelurahan_name = kecamatan_name = ""
    needs = []
    for index, need in enumerate(state.needs):
        counts = state.counts(index)
        needs.append(
            NeedView.model_construct(
                unit=need.unit,
                skill=need.skill,
                count=need.count,
                filled=counts.filled,
                offered=counts.offered,
                open=counts.open,
            )
        )
    assignments = [
        AssignmentView.model_construct(
            offer_id=a.offer_id,
            volunteer_id=a.volunteer_id,
            volunteer_name=a.volunteer_name,
            unit=a.unit,
            skill=a.skill,
            status=a.status,
            distance_km=a.distance_km,
            offered_at=a.offered_at,
            expires_at=a.expires_at,
            responded_at=a.responded_at,
            delivered_at=a.delivered_at,
            updated_at=a.updated_at,
        )
        for a in state.assignments
    ]
    return IncidentView.model_construct(
        id=state.incident_id,
        type=state.type,
        severity=state.severity,
        title=state.title,
        description=state.description,
        location=state.location,
        kelurahan_code=state.kelurahan_code,
        kelurahan_name=kelurahan_name,
        kecamatan_name=kecamatan_name,
        affected_people=state.affected_people,
        status=state.status,
        needs=needs,
        assignments=assignments,
        timeline=list(state.timeline),
        reported_at=state.reported_at,
        updated_at=state.updated_at,
        assessment=state.assessment,
        assessments=state.assessments,
    )
