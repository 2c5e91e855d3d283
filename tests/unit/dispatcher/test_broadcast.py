"""Call-outs to many at once (issue 18): a broadcast need is offered to `broadcast_factor` × its open
slots; the first answers fill it, the rest are withdrawn as filled and their volunteers are free again;
a need is never overfilled and a volunteer never holds two offers."""

from __future__ import annotations

import random

import pytest

from bench.fill import CALL_OUT_19, TAGANA_SKILLS
from schemas.events import OfferAccepted, OfferDeclined, OfferExpired, OfferWithdrawn
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
from services.dispatcher.commands import Emit, Notify
from services.dispatcher.incident import IncidentState
from services.dispatcher.runcards import RunCardError, parse_runcards
from tests.unit.dispatcher.world import World, ev, later, reported


def forty() -> World:
    """36 Tagana who can do anything a flood asks, 4 TRC assessors; all at different distances."""
    specs = [(f"v-{i:02d}", Unit.TAGANA, tuple(sorted(TAGANA_SKILLS)), 0.3 + i * 0.1) for i in range(36)]
    specs += [(f"t-{i}", Unit.TRC, (Skill.RAPID_ASSESSMENT,), 0.5 + i * 0.2) for i in range(4)]
    return World.of(*specs)


def answer(
    world: World, state: IncidentState, offer_id: str, at: float, *, yes: bool = True
) -> IncidentState:
    a = state.assignment(offer_id)
    assert a is not None
    cls = OfferAccepted if yes else OfferDeclined
    payload = cls(
        offer_id=offer_id,
        incident_id=state.incident_id,
        volunteer_id=a.volunteer_id,
        channel=ChannelType.WHATSAPP,
    )
    return world.run(state, ev(payload, later(at)), later(at))


def test_an_extreme_call_out_is_broadcast_to_twice_its_19_slots() -> None:
    world = forty()
    state = world.run(None, ev(reported(severity=Severity.EXTREME, needs=CALL_OUT_19)), later(0))
    assert sum(n.count for n in state.needs) == 19
    assert state.offer_mode == "broadcast"
    offered = [a for a in state.assignments if a.status == AssignmentStatus.OFFERED]
    assert len(offered) == 38  # 2 × 19 at once, where one-per-slot would offer 19
    for index, need in enumerate(state.needs):
        assert state.counts(index).offered == 2 * need.count
    assert len(world.holds) == 38 and len(set(world.holds.values())) == 38  # one offer per volunteer


@pytest.mark.parametrize("seed", range(8))
def test_all_answer_yes_in_any_order_19_filled_none_overfilled(seed: int) -> None:
    world = forty()
    state = world.run(None, ev(reported(severity=Severity.EXTREME, needs=CALL_OUT_19)), later(0))
    order = [a.offer_id for a in state.assignments]
    random.Random(seed).shuffle(order)
    filled_replies: list[Notify] = []
    for step, offer_id in enumerate(order):
        state = answer(world, state, offer_id, 1 + step * 0.01)
        filled_replies += [
            c for c in world.of_type(Notify) if c.kind == NotificationKind.REPLY and c.reason == "filled"
        ]
        for index, need in enumerate(state.needs):  # never overfilled, at any point
            assert state.counts(index).filled <= need.count
    assert state.status == IncidentStatus.STAFFED
    accepted = [a for a in state.assignments if a.status == AssignmentStatus.ACCEPTED]
    withdrawn = [a for a in state.assignments if a.status == AssignmentStatus.WITHDRAWN]
    assert len(accepted) == 19 and len(withdrawn) == 19
    # only the 19 who go still hold anything; the later "SIAP"s are free again
    assert sorted(world.holds) == sorted(a.volunteer_id for a in accepted)
    # every late "SIAP" was told "Sudah terpenuhi" (or had its offer withdrawn before it answered)
    assert {c.offer_id for c in filled_replies} <= {a.offer_id for a in withdrawn}


def test_the_first_answers_fill_a_need_and_the_rest_are_withdrawn_at_once() -> None:
    world = forty()
    state = world.run(None, ev(reported(severity=Severity.EXTREME, needs=CALL_OUT_19)), later(0))
    index = next(i for i, n in enumerate(state.needs) if n.skill == Skill.COMMAND_POST)  # one slot
    first, second = [a for a in state.assignments if a.need_index == index]
    state = answer(world, state, first.offer_id, 2)
    assert state.assignment(first.offer_id).status == AssignmentStatus.ACCEPTED  # type: ignore[union-attr]
    assert state.assignment(second.offer_id).status == AssignmentStatus.WITHDRAWN  # type: ignore[union-attr]
    withdrawals = [c.payload for c in world.of_type(Emit) if isinstance(c.payload, OfferWithdrawn)]
    assert [(w.offer_id, w.reason) for w in withdrawals] == [(second.offer_id, "reassigned")]
    notices = world.of_type(Notify)
    assert any(n.kind == NotificationKind.WITHDRAWAL and n.offer_id == second.offer_id for n in notices)
    assert any(n.kind == NotificationKind.REPLY and n.reason == "accepted" for n in notices)
    assert second.volunteer_id not in world.holds
    assert any(e.event == "accepted" and e.detail.endswith("lewat WhatsApp") for e in state.timeline)

    # the second one's "SIAP" arrives after all: nothing changes, and they hear it was filled
    late = answer(world, state, second.offer_id, 3)
    assert late.counts(index).filled == 1
    replies = [n for n in world.of_type(Notify) if n.kind == NotificationKind.REPLY]
    assert [(n.offer_id, n.reason, n.channel) for n in replies] == [
        (second.offer_id, "filled", ChannelType.WHATSAPP)
    ]


def test_a_decline_keeps_the_call_out_at_its_factor() -> None:
    world = forty()
    state = world.run(None, ev(reported(severity=Severity.EXTREME, needs=CALL_OUT_19)), later(0))
    index = next(i for i, n in enumerate(state.needs) if n.skill == Skill.COMMAND_POST)
    a = next(a for a in state.assignments if a.need_index == index)
    state = answer(world, state, a.offer_id, 2, yes=False)
    assert state.counts(index).offered == 2  # the next candidate is asked at once
    expiry = OfferExpired(
        offer_id=state.assignments[-1].offer_id,
        incident_id="INC-1",
        volunteer_id=state.assignments[-1].volunteer_id,
    )
    state = world.run(state, ev(expiry, later(130)), later(130))
    assert state.counts(index).offered == 2


def test_severe_stays_one_offer_per_slot() -> None:
    world = forty()
    state = world.run(None, ev(reported(severity=Severity.SEVERE, needs=CALL_OUT_19)), later(0))
    assert state.offer_mode == "one_per_slot"
    assert len(state.assignments) == sum(n.count for n in state.needs)


def test_an_incident_may_ask_for_a_broadcast_itself() -> None:
    world = forty()
    report = reported(severity=Severity.SEVERE, needs=CALL_OUT_19).model_copy(
        update={"offer_mode": "broadcast"}
    )
    state = world.run(None, ev(report), later(0))
    assert len(state.assignments) == 2 * sum(n.count for n in state.needs)


def test_run_card_modes_and_factor() -> None:
    base = {"cards": {"default": {s.value: [{"unit": "trc", "count": 1}] for s in Severity}}}
    default = parse_runcards(base)
    assert default.offer_mode(IncidentType.FIRE, Severity.EXTREME) == "broadcast"
    assert default.offer_mode(IncidentType.FIRE, Severity.SEVERE) == "one_per_slot"
    cards = parse_runcards(
        {
            **base,
            "offers": {
                "mode": {"extreme": "one_per_slot", "flood.severe": "broadcast"},
                "broadcast_factor": 3,
            },
        }
    )
    assert cards.offer_mode(IncidentType.FLOOD, Severity.SEVERE) == "broadcast"
    assert cards.offer_mode(IncidentType.FIRE, Severity.SEVERE) == "one_per_slot"
    assert cards.offer_mode(IncidentType.FLOOD, Severity.EXTREME) == "one_per_slot"
    assert cards.broadcast_factor == 3.0
    for bad in (
        {"mode": {"extreme": "everyone"}},
        {"mode": {"tsunami.severe": "broadcast"}},
        {"broadcast_factor": 0.5},
    ):
        with pytest.raises(RunCardError):
            parse_runcards({**base, "offers": bad})
