"""The fault suite's counts from the event log (pure)."""

from __future__ import annotations

from faults.accounting import Log, Window, count, duplicate_handoffs, handoff_key


def made(log: Log, offer: str, incident: str, volunteer: str, at: float, *, ttl: float = 20) -> None:
    payload = {"offer_id": offer, "incident_id": incident, "volunteer_id": volunteer, "expires_at": at + ttl}
    log.add("offer.made", at, payload, on_dispatch_log=True)


def answer(log: Log, kind: str, offer: str, at: float, **extra: str) -> None:
    """The answer on `responses` (stamped when given) and the dispatcher's record of it on
    `dispatch-log` a little later."""
    log.add(kind, at, {"offer_id": offer, **extra}, on_dispatch_log=False)
    log.add(kind, at + 0.05, {"offer_id": offer, **extra}, on_dispatch_log=True)


def window(*incidents: str, fault_at: float = 5.0) -> Window:
    return Window({i: float(n) for n, i in enumerate(incidents)}, 0.0, fault_at, 100.0, 100.0)


def parts(*incidents: str) -> dict[str, int]:
    return {i: n % 2 for n, i in enumerate(incidents)}


def test_a_clean_run_counts_zero() -> None:
    log = Log()
    made(log, "O1", "I1", "V1", 1.0)
    answer(log, "offer.declined", "O1", 2.0)
    made(log, "O2", "I1", "V2", 2.5)
    answer(log, "offer.accepted", "O2", 3.0)
    answer(log, "assignment.status_changed", "O2", 6.0, status="released")
    made(log, "O3", "I2", "V1", 7.0)  # V1 again, after their decline
    answer(log, "offer.expired", "O3", 27.0)
    result = count(log, window("I1", "I2"), parts("I1", "I2"))
    assert {
        k: result[k] for k in ("lost", "double_booked", "overfilled", "unexpired_offers")
    } == dict.fromkeys(("lost", "double_booked", "overfilled", "unexpired_offers"), 0)


def test_each_failure_is_counted() -> None:
    log = Log()
    made(log, "O1", "I1", "V1", 1.0)  # never answered nor expired: unexpired
    made(log, "O2", "I2", "V1", 2.0)  # V1 held twice: double-booked
    made(log, "O3", "I2", "V2", 3.0)  # I2 offered twice at once: overfilled
    answer(log, "offer.accepted", "O2", 4.0)
    answer(log, "offer.accepted", "O3", 4.0)
    result = count(log, window("I1", "I2", "I3"), parts("I1", "I2", "I3"))  # I3: no decision at all
    assert result["lost"] == 1
    assert result["double_booked"] == 1
    assert result["overfilled"] == 1
    assert result["unexpired_offers"] == 1


def test_resume_is_the_slowest_partition_after_the_fault() -> None:
    log = Log()
    for incident, decided in (("I1", 1.0), ("I2", 7.0), ("I3", 9.5), ("I4", 8.0)):
        log.add("incident.status_changed", decided, {"incident_id": incident}, on_dispatch_log=True)
    w = Window({"I1": 0.5, "I2": 6.0, "I3": 6.5, "I4": 7.0}, 0.0, 5.0, 100.0, 100.0)
    # partition 0: I2 first after the fault (decided 7.0); partition 1: I3 first (decided 9.5)
    assert count(log, w, {"I1": 0, "I2": 0, "I3": 1, "I4": 1})["resume_s"] == 4.5
    assert count(Log(), w, {"I1": 0, "I2": 0, "I3": 1, "I4": 1})["resume_s"] is None


def test_duplicate_handoffs_are_counted_where_they_happen() -> None:
    handoffs = [("+62811", "offer A", 1.0), ("+62811", "offer A", 5.0), ("+62812", "offer A", 6.0)]
    assert duplicate_handoffs(handoffs, 0.0, 10.0) == 1
    assert duplicate_handoffs(handoffs, 0.0, 4.0) == 0


def test_an_answer_the_dispatcher_turned_away_is_no_acceptance() -> None:
    """A broker away delayed an acceptance past the offer's expiry: the dispatcher recorded the expiry
    (and offered the slot again), never the acceptance. One hold at a time, one acceptance: no
    overfill."""
    log = Log()
    made(log, "O1", "I1", "V1", 1.0, ttl=10)
    log.add("offer.accepted", 1.5, {"offer_id": "O1"}, on_dispatch_log=False)  # late on the log
    answer(log, "offer.expired", "O1", 11.0)
    made(log, "O2", "I1", "V2", 12.5)
    answer(log, "offer.accepted", "O2", 13.0)
    assert count(log, window("I1"), parts("I1"))["overfilled"] == 0


def test_an_answer_never_recorded_by_the_dispatcher_leaves_the_offer_unexpired() -> None:
    log = Log()
    made(log, "O1", "I1", "V1", 1.0, ttl=10)
    log.add("offer.declined", 2.0, {"offer_id": "O1"}, on_dispatch_log=False)  # never taken in
    assert count(log, window("I1"), parts("I1"))["unexpired_offers"] == 1


def test_a_handoff_is_the_notification_to_its_recipient() -> None:
    """Two offers to one volunteer (same interactive text) are two hand-offs; one notification
    handed twice is a duplicate."""
    first = {"to": "62811", "biz_opaque_callback_data": "N1", "type": "interactive", "interactive": {}}
    second = first | {"biz_opaque_callback_data": "N2"}
    handoffs = [("62811", handoff_key(b), at) for b, at in ((first, 1.0), (second, 2.0), (first, 3.0))]
    assert duplicate_handoffs(handoffs, 0.0, 10.0) == 1
    assert handoff_key({"to": "1", "text": {"body": "a"}}) != handoff_key({"to": "1", "text": {"body": "b"}})
