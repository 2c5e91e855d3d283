"""The volunteer's pages: `/r/{token}` (one offer) and `/v/{token}` (self-service)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from schemas.events import AssignmentStatusChanged, OfferAccepted, OfferDeclined, VolunteerDutyChanged
from schemas.vocabulary import AssignmentStatus, IncidentStatus
from services.common.topics import RESPONSES, VOLUNTEERS
from services.gateway.routes.links import page_csrf
from tests.integration.gateway.conftest import (
    COORDINATOR,
    Gw,
    assignment,
    events_of,
    incident_view,
    offer_token,
    profile,
    read_topic,
    seed_incident,
    seed_offer,
    seed_volunteer,
)

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


async def _offer(gw: Gw, status: AssignmentStatus = AssignmentStatus.OFFERED, **kw: float) -> str:
    await seed_incident(gw, incident_view("INC-1", assignments=[assignment("of-1", "V-001", status)]))
    await seed_offer(gw, "of-1", "INC-1", "V-001", status, **kw)
    return offer_token(gw, "of-1", "V-001", "INC-1")


async def _csrf(gw: Gw, path: str) -> str:
    page = await gw.client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match, "the page has no form"
    return match.group(1)


async def test_get_shows_the_offer_and_changes_nothing(gw: Gw) -> None:
    token = await _offer(gw)
    for _ in range(3):  # chat apps prefetch links, sometimes more than once
        page = await gw.client.get(f"/r/{token}")
        assert page.status_code == 200
    html = page.text
    assert '<html lang="id">' in html
    assert "Banjir" in html and "Manisrenggo" in html and "Kec. Kota" in html
    assert "openstreetmap.org" in html
    assert "Tagana (Taruna Siaga Bencana)" in html
    assert "WIB" in html  # the deadline in local time
    assert 'value="accept"' in html and 'value="decline"' in html
    assert 'value="en_route"' not in html
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert len(await read_topic(gw.settings, RESPONSES, expect=0, timeout_s=1.5)) == 0
    offer = await gw.redis.hgetall(gw.keys.offer("of-1"))
    assert offer["status"] == "offered"


async def test_post_accept_produces_and_redirects(gw: Gw) -> None:
    token = await _offer(gw)
    csrf = await _csrf(gw, f"/r/{token}")
    answer = await gw.client.post(f"/r/{token}", data={"action": "accept", "csrf": csrf})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/r/{token}?done=accept"
    again = await gw.client.post(f"/r/{token}", data={"action": "accept", "csrf": csrf})  # a double tap
    assert again.status_code == 303

    records = await read_topic(gw.settings, RESPONSES, expect=1)
    assert len(records) == 1
    assert records[0].key == b"INC-1"
    accepted = events_of(records)[0].payload
    assert isinstance(accepted, OfferAccepted)
    assert (accepted.offer_id, accepted.volunteer_id, accepted.via) == ("of-1", "V-001", "link")

    processing = await gw.client.get(f"/r/{token}?done=accept")
    assert "sedang diproses" in processing.text
    assert 'http-equiv="refresh"' in processing.text
    await seed_offer(gw, "of-1", "INC-1", "V-001", AssignmentStatus.ACCEPTED)  # the dispatcher applied it
    done = await gw.client.get(f"/r/{token}?done=accept")
    assert "Terima kasih" in done.text
    assert 'value="en_route"' in done.text and 'value="accept"' not in done.text


async def test_progress_after_accepting(gw: Gw) -> None:
    token = await _offer(gw, AssignmentStatus.ACCEPTED)
    csrf = await _csrf(gw, f"/r/{token}")
    assert (await gw.client.post(f"/r/{token}", data={"action": "en_route", "csrf": csrf})).status_code == 303
    await seed_offer(gw, "of-1", "INC-1", "V-001", AssignmentStatus.EN_ROUTE)
    assert (await gw.client.post(f"/r/{token}", data={"action": "on_scene", "csrf": csrf})).status_code == 303
    events = events_of(await read_topic(gw.settings, RESPONSES, expect=2))
    steps = [e.payload.status for e in events if isinstance(e.payload, AssignmentStatusChanged)]
    assert steps == [AssignmentStatus.EN_ROUTE, AssignmentStatus.ON_SCENE]


async def test_out_of_state_answers_get_a_409_page(gw: Gw) -> None:
    token = await _offer(gw, AssignmentStatus.WITHDRAWN)
    page = await gw.client.get(f"/r/{token}")
    assert page.status_code == 200
    assert "ditarik" in page.text
    assert 'name="action"' not in page.text  # no buttons for a withdrawn offer
    csrf = CSRF.search(await _page_with_csrf_from_another_state(gw, token))
    assert csrf
    refused = await gw.client.post(f"/r/{token}", data={"action": "accept", "csrf": csrf.group(1)})
    assert refused.status_code == 409
    assert "Ditarik" in refused.text
    assert "Traceback" not in refused.text
    assert len(await read_topic(gw.settings, RESPONSES, expect=0, timeout_s=1)) == 0


async def _page_with_csrf_from_another_state(gw: Gw, token: str) -> str:
    """The form of the page as it was while the offer was open (the volunteer kept the tab)."""
    await seed_offer(gw, "of-1", "INC-1", "V-001", AssignmentStatus.OFFERED)
    html = (await gw.client.get(f"/r/{token}")).text
    await seed_offer(gw, "of-1", "INC-1", "V-001", AssignmentStatus.WITHDRAWN)
    return html


async def test_an_offer_past_its_deadline_cannot_be_accepted(gw: Gw) -> None:
    token = await _offer(gw, expires_in_s=-5)  # expired, and the dispatcher has not caught up yet
    page = await gw.client.get(f"/r/{token}")
    assert 'value="accept"' not in page.text
    assert "sudah habis" in page.text
    # the volunteer kept the page open from before the deadline: the form field is still genuine
    csrf = page_csrf(SimpleNamespace(settings=gw.settings), token)  # type: ignore[arg-type]
    refused = await gw.client.post(f"/r/{token}", data={"action": "accept", "csrf": csrf})
    assert refused.status_code == 409
    assert "habis" in refused.text
    assert len(await read_topic(gw.settings, RESPONSES, expect=0, timeout_s=1)) == 0


async def test_forged_expired_and_mismatched_links(gw: Gw) -> None:
    token = await _offer(gw)
    body, _, mac = token.partition(".")
    forged = f"{body}.{'A' * len(mac)}"
    page = await gw.client.get(f"/r/{forged}", headers={"accept": "text/html"})
    assert page.status_code == 400
    assert "tidak sah" in page.text
    assert "Traceback" not in page.text
    assert (await gw.client.get("/r/not-a-token")).status_code == 400
    assert (await gw.client.post(f"/r/{forged}", data={"action": "accept", "csrf": "x"})).status_code == 400

    expired = offer_token(gw, "of-1", "V-001", "INC-1", expires_in_s=-1)
    gone = await gw.client.get(f"/r/{expired}")
    assert gone.status_code == 410
    assert "kedaluwarsa" in gone.text

    someone_else = offer_token(gw, "of-1", "V-999", "INC-1")  # signed, but not this offer's volunteer
    assert (await gw.client.get(f"/r/{someone_else}")).status_code == 400
    unknown = offer_token(gw, "of-404", "V-001")
    assert (await gw.client.get(f"/r/{unknown}")).status_code == 404

    no_csrf = await gw.client.post(f"/r/{token}", data={"action": "accept"})
    assert no_csrf.status_code == 403
    odd_csrf = await gw.client.post(f"/r/{token}", data={"action": "accept", "csrf": "ñ" * 32})
    assert odd_csrf.status_code == 403
    assert (await gw.client.get("/r/ab.cdé")).status_code == 400
    wrong_action = await gw.client.post(
        f"/r/{token}", data={"action": "explode", "csrf": await _csrf(gw, f"/r/{token}")}
    )
    assert wrong_action.status_code == 400
    assert len(await read_topic(gw.settings, RESPONSES, expect=0, timeout_s=1)) == 0


async def test_decline_from_the_page(gw: Gw) -> None:
    token = await _offer(gw)
    csrf = await _csrf(gw, f"/r/{token}")
    assert (await gw.client.post(f"/r/{token}", data={"action": "decline", "csrf": csrf})).status_code == 303
    events = events_of(await read_topic(gw.settings, RESPONSES, expect=1))
    assert isinstance(events[0].payload, OfferDeclined)


async def test_a_closed_incident_cannot_be_answered(gw: Gw) -> None:
    token = await _offer(gw)
    csrf = await _csrf(gw, f"/r/{token}")
    await seed_incident(gw, incident_view("INC-1", status=IncidentStatus.CANCELLED))
    refused = await gw.client.post(f"/r/{token}", data={"action": "accept", "csrf": csrf})
    assert refused.status_code == 409
    assert "ditutup" in refused.text


async def test_self_service_page(gw: Gw) -> None:
    await seed_volunteer(gw, profile("V-001", on_duty=False))
    url = (await gw.client.post("/api/v1/volunteers/V-001/link", headers=COORDINATOR)).json()["url"]
    path = url.removeprefix(gw.url)
    page = await gw.client.get(path)
    assert page.status_code == 200
    assert "Siti Rahayu" in page.text and 'value="on_duty"' in page.text
    assert "navigator.geolocation" not in page.text  # the script is a file (CSP), not inline
    csrf = CSRF.search(page.text)
    assert csrf
    on = await gw.client.post(path, data={"action": "on_duty", "csrf": csrf.group(1)})
    assert on.status_code == 303
    located = await gw.client.post(
        path, data={"action": "location", "lat": "-7.8101", "lon": "112.0202", "csrf": csrf.group(1)}
    )
    assert located.status_code == 303
    far = await gw.client.post(
        path, data={"action": "location", "lat": "-6.2", "lon": "106.8", "csrf": csrf.group(1)}
    )
    assert far.status_code == 422
    assert "Kota Kediri" in far.text
    assert (await gw.client.post(path, data={"action": "on_duty"})).status_code == 403

    events = events_of(await read_topic(gw.settings, VOLUNTEERS, expect=2))
    changes = [e.payload for e in events if isinstance(e.payload, VolunteerDutyChanged)]
    assert [c.on_duty for c in changes] == [True, False]  # the location share keeps the roster's duty
    assert changes[1].location is not None and changes[1].location.lat == -7.8101
    offer_link = offer_token(gw, "of-1", "V-001")
    assert (await gw.client.get(f"/v/{offer_link}")).status_code == 400  # an offer link is not a self link
