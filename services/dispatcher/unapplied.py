"""Answers no recorded decision has applied: what parking held, derived again from the topics.

An answer to an offer of an incident whose state is not there yet is parked in Redis
(`dsp:parked:{incident}`, `Dispatch._park`) and its `responses` offset is committed: from then on
Redis holds its only copy, which a rebuild wipes and a lost Redis loses. The topics still say it: an
answer on `responses` that the dispatcher's consumer group has acknowledged (it lies below the
group's committed offset) while the offer it answers is, on `dispatch-log`, still where the answer
would have moved it from — offered, for an acceptance, a decline or an expiry; earlier in accepted →
en route → on scene → released, for a status — was parked, or decided on a state Redis then lost.
`sigap rebuild` puts each such answer back on `responses` (the same record: the same event id and
key) for the incident's owner to decide. Answers not yet acknowledged are on their way anyway and are
left alone; a copy handled twice changes nothing the second time (an answer to an offer no longer
outstanding changes nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.envelope import Envelope
from schemas.events import AssignmentStatusChanged, OfferAccepted, OfferDeclined, OfferExpired, Payload
from schemas.vocabulary import AssignmentStatus
from services.common.base_settings import CommonSettings
from services.common.kafka import new_producer, security_options
from services.common.topics import RESPONSES
from services.dispatcher.incident_state import IncidentState

log = logging.getLogger(__name__)

A = AssignmentStatus
PROGRESS = (A.ACCEPTED, A.EN_ROUTE, A.ON_SCENE, A.RELEASED)


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer on `responses`, where it lies and its bytes as they are there."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    event: Envelope[Payload]


def is_answer(event: Envelope[Payload]) -> bool:
    return isinstance(event.payload, OfferAccepted | OfferDeclined | OfferExpired | AssignmentStatusChanged)


def applies(payload: Payload, status: AssignmentStatus) -> bool:
    """Whether the answer would still move an offer the log leaves at `status`."""
    if isinstance(payload, AssignmentStatusChanged):
        if status not in PROGRESS or payload.status not in PROGRESS:
            return False
        return PROGRESS.index(status) < PROGRESS.index(payload.status)
    return status == A.OFFERED


def unapplied(
    answers: Iterable[Answer], states: Mapping[str, IncidentState], committed: Mapping[int, int]
) -> list[Answer]:
    """The acknowledged answers (offset below `committed[partition]`) of open incidents with a
    state that no recorded decision has applied, in their order; one per event id."""
    out: list[Answer] = []
    seen: set[str] = set()
    for answer in answers:
        p = answer.event.payload
        state = states.get(str(getattr(p, "incident_id", "")))
        if (
            state is None
            or not state.status.is_open
            or answer.offset >= committed.get(answer.partition, 0)
            or answer.event.event_id in seen
        ):
            continue
        a = state.assignment(str(getattr(p, "offer_id", "")))
        if a is None or a.volunteer_id != getattr(p, "volunteer_id", None) or not applies(p, a.status):
            continue
        seen.add(answer.event.event_id)
        out.append(answer)
    return out


def dispatcher_group(settings: CommonSettings) -> str:
    """The dispatcher workers' consumer group (`services.dispatcher.app`)."""
    return f"{settings.topic_prefix}dispatcher"


async def committed_offsets(settings: CommonSettings, partitions: Iterable[int]) -> dict[int, int]:
    """The dispatcher group's committed offset of each partition of `responses` (0 when none)."""
    topic = settings.topic(RESPONSES)
    tps = [TopicPartition(topic, p) for p in partitions]
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.topic_prefix}rebuild-offsets",
        **security_options(settings),
    )
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(dispatcher_group(settings), partitions=tps)
    finally:
        await admin.close()
    return {tp.partition: max(0, meta.offset) for tp, meta in found.items() if meta is not None}


async def put_back(settings: CommonSettings, answers: list[Answer]) -> None:
    """The answers on `responses` again, as they were (key and bytes), for their incidents' owners."""
    if not answers:
        return
    producer = new_producer(
        settings.kafka_bootstrap, client_id=f"{settings.topic_prefix}rebuild", settings=settings
    )
    await producer.start()
    try:
        topic = settings.topic(RESPONSES)
        for answer in answers:
            await producer.send_and_wait(topic, answer.value, key=answer.key, partition=answer.partition)
            log.warning(
                "%s %s for incident %s (responses[%d]@%d): acknowledged, applied by no recorded "
                "decision (parked when Redis was lost); put back on %s",
                answer.event.event_type,
                answer.event.event_id,
                getattr(answer.event.payload, "incident_id", "?"),
                answer.partition,
                answer.offset,
                topic,
            )
    finally:
        await producer.stop()
