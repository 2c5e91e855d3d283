"""One valid payload of every event type, for round-trip tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from schemas import events as ev
from schemas.fields import GeoPoint
from schemas.vocabulary import (
    AssignmentStatus,
    ChannelType,
    IncidentStatus,
    IncidentType,
    NotificationKind,
    Severity,
    Skill,
    Unit,
)

AT = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)
MANISRENGGO = "35.71.02.1015"


def profile(volunteer_id: str = "V-001") -> ev.VolunteerProfile:
    return ev.VolunteerProfile(
        volunteer_id=volunteer_id,
        name="Siti Aminah",
        phone="081234567890",
        unit=Unit.TAGANA,
        skills=[Skill.WATER_RESCUE, Skill.EVACUATION],
        certifications=[ev.Certification(skill=Skill.WATER_RESCUE, expires_on=date(2027, 6, 30))],
        home_kelurahan_code=MANISRENGGO,
        location=GeoPoint(lat=-7.80, lon=111.98),
        channels=[ev.ChannelAddress(type=ChannelType.WHATSAPP, address="081234567890")],
        on_duty=True,
    )


def sample_payloads() -> list[ev.Payload]:
    ids = {"offer_id": "OF-1", "incident_id": "INC-1", "volunteer_id": "V-001"}
    return [
        ev.IncidentReported(
            incident_id="INC-1",
            type=IncidentType.FLOOD,
            severity=Severity.SEVERE,
            title="Banjir Sungai Brantas",
            location=GeoPoint(lat=-7.80, lon=111.98),
            kelurahan_code=MANISRENGGO,
            affected_people=120,
            needs=[ev.Need(unit=Unit.TAGANA, skill=Skill.WATER_RESCUE, count=2)],
        ),
        ev.IncidentCancelled(incident_id="INC-1", reason="laporan palsu"),
        ev.IncidentClosed(incident_id="INC-1", note="air surut"),
        ev.IncidentStatusChanged(
            incident_id="INC-1", status=IncidentStatus.STAFFED, previous_status=IncidentStatus.DISPATCHING
        ),
        ev.WeatherAlertIssued(
            alert_id="CJI20261128001",
            sent=AT,
            expires=AT,
            severity="Severe",
            urgency="Immediate",
            affected_kelurahan=[MANISRENGGO],
            affected_kecamatan=["Mojoroto"],
        ),
        ev.WeatherAlertUpdated(alert_id="CJI20261128002", sent=AT, references=["BMKG,CJI20261128001,x"]),
        ev.WeatherAlertCancelled(alert_id="CJI20261128003", cancelled_alert_ids=["CJI20261128001"]),
        ev.VolunteerRegistered(profile=profile()),
        ev.VolunteerUpdated(profile=profile()),
        ev.VolunteerDutyChanged(profile=profile(), on_duty=True, location=GeoPoint(lat=-7.81, lon=111.99)),
        ev.VolunteerLinksRevoked(
            profile=profile().model_copy(update={"link_generation": 2}), by="coordinator"
        ),
        ev.OfferMade(
            **ids, need_index=0, unit=Unit.TAGANA, skill=Skill.WATER_RESCUE, distance_km=1.2, expires_at=AT
        ),
        ev.OfferAccepted(**ids),
        ev.OfferDeclined(**ids, via="ops_room", by="operator"),
        ev.OfferExpired(**ids),
        ev.OfferWithdrawn(**ids, reason="cancelled"),
        ev.AssignmentStatusChanged(**ids, status=AssignmentStatus.ON_SCENE),
        ev.DispatchRetry(incident_id="INC-1", reason="a volunteer became free"),
        ev.IncidentAssessed(
            incident_id="INC-1",
            assessment=ev.AssessmentReport(
                families=40,
                people=150,
                houses_damaged=ev.HousesDamaged(light=12, heavy=2),
                evacuees=120,
                evacuee_sites=["Balai Kelurahan Manisrenggo"],
                urgent_needs=["public_kitchen", "shelter"],
                notes="air setinggi pinggang di RW 03",
                assessed_at=AT,
                location=GeoPoint(lat=-7.80, lon=111.98),
            ),
            via="link",
            volunteer_id="V-005",
            offer_id="OF-5",
        ),
        ev.IncidentNeedsChanged(
            incident_id="INC-1",
            changes=[ev.NeedChange(unit=Unit.KARANG_TARUNA, skill=Skill.PUBLIC_KITCHEN, count=4, previous=0)],
            reason="kaji cepat: 120 pengungsi",
        ),
        ev.NotificationRequested(
            notification_id="N-1",
            kind=NotificationKind.OFFER,
            recipient=ev.Recipient(
                volunteer_id="V-001",
                name="Siti",
                channels=[ev.ChannelAddress(type=ChannelType.TELEGRAM, address="123456")],
            ),
            deadline=AT,
            incident_id="INC-1",
            offer_id="OF-1",
            context=ev.MessageContext(incident_type=IncidentType.FLOOD, kelurahan_code=MANISRENGGO),
        ),
        ev.NotificationDelivered(
            notification_id="N-1", channel=ChannelType.OUTBOX, attempts=1, latency_ms=3.5
        ),
        ev.NotificationFailed(notification_id="N-1", channel=ChannelType.SMS, reason="503", attempts=3),
        ev.DeadLetter(topic="sigap.incidents", reason="payload.severity: bad", original_base64="e30="),
        ev.NotificationStatus(
            notification_id="N-1",
            channel=ChannelType.WHATSAPP,
            status="read",
            provider_message_id="wamid.HBgN000001",
            at=datetime(2026, 3, 12, 8, 0, tzinfo=UTC),
        ),
    ]
