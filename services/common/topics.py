"""Topic names (after `SIGAP_TOPIC_PREFIX`), their creation, and the check every service makes at start
(DESIGN.md §5): topics are created here with their partitions, cleanup policy and replication, never by
a client guessing, and a service refuses to start on a topic that is missing or shaped otherwise."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from schemas.errors import SigapError
from services.common.kafka import security_options

if TYPE_CHECKING:
    from services.common.base_settings import CommonSettings

log = logging.getLogger(__name__)

INCIDENTS = "incidents"
WEATHER_ALERTS = "weather-alerts"
VOLUNTEERS = "volunteers"
RESPONSES = "responses"
NOTIFICATIONS = "notifications"
DELIVERIES = "deliveries"
DEAD_LETTERS = "dead-letters"
DISPATCH_LOG = "dispatch-log"

UNLIMITED = -1
"""`retention.ms` of a topic that keeps everything (the audit trail)."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)

    @property
    def cleanup_policy(self) -> str:
        return self.config.get("cleanup.policy", "delete")


# incidents and responses are keyed by incident id and must have the same partition count, so one
# dispatcher worker sees every event of an incident in order (and faust co-partitions its table).
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(INCIDENTS, 8),
    TopicSpec(RESPONSES, 8),
    TopicSpec(DISPATCH_LOG, 8),
    TopicSpec(WEATHER_ALERTS, 1),
    TopicSpec(VOLUNTEERS, 4, {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}),
    TopicSpec(NOTIFICATIONS, 8),
    TopicSpec(DELIVERIES, 4),
    TopicSpec(DEAD_LETTERS, 1, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
)
SPECS = {t.name: t for t in TOPICS}

# The topics each service reads or writes: what it checks before it starts.
DISPATCHER_TOPICS = (
    INCIDENTS,
    RESPONSES,
    VOLUNTEERS,
    WEATHER_ALERTS,
    NOTIFICATIONS,
    DISPATCH_LOG,
    DEAD_LETTERS,
)
NOTIFIER_TOPICS = (NOTIFICATIONS, DELIVERIES, RESPONSES, DEAD_LETTERS)
GATEWAY_TOPICS = (INCIDENTS, RESPONSES, VOLUNTEERS, WEATHER_ALERTS)


class TopicMismatch(SigapError):
    """Topics a service needs are missing or shaped otherwise than `TOPICS` says."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "topics are not as this service expects (create them with `make topics` / "
            "`python -m services.common.topics`, or fix them by hand):\n  " + "\n  ".join(self.problems)
        )


def min_insync(replication: int) -> int:
    """`min.insync.replicas` for a replication factor: all but one copy (at least one), so one broker
    may be away and `acks=all` still means more than one copy on three brokers."""
    return max(1, replication - 1)


def spec_config(spec: TopicSpec, replication: int, dispatch_log_retention_ms: int) -> dict[str, str]:
    config = dict(spec.config)
    config["min.insync.replicas"] = str(min_insync(replication))
    if spec.name == DISPATCH_LOG:
        config["retention.ms"] = str(dispatch_log_retention_ms)
    return config


async def _admin(
    bootstrap: str, timeout_s: float, settings: CommonSettings | None = None
) -> AIOKafkaAdminClient:
    """An admin client, started; `settings` give the transport security (default: the environment's)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000), **security_options(settings)
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except BaseException:
        await admin.close()
        raise
    return admin


async def broker_count(admin: AIOKafkaAdminClient) -> int:
    cluster = await admin.describe_cluster()
    return len(cluster["brokers"])


async def default_replication(admin: AIOKafkaAdminClient, wanted: int | None) -> int:
    """`SIGAP_REPLICATION_FACTOR`, or else 3 where there are three brokers or more, 1 on one."""
    if wanted is not None:
        return wanted
    return min(3, await broker_count(admin))


async def create_topics(
    bootstrap: str,
    prefix: str,
    timeout_s: float = 30.0,
    *,
    replication: int | None = None,
    dispatch_log_retention_ms: int = UNLIMITED,
    settings: CommonSettings | None = None,
) -> list[str]:
    """Create every topic that is missing; return the names created. Idempotent: existing topics are
    left as they are (`check_topics` says whether they are right). `settings` give the transport
    security (default: the environment's)."""
    admin = await _admin(bootstrap, timeout_s, settings)
    try:
        rf = await default_replication(admin, replication)
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                prefix + t.name,
                num_partitions=t.partitions,
                replication_factor=rf,
                topic_configs=spec_config(t, rf, dispatch_log_retention_ms),
            )
            for t in TOPICS
            if prefix + t.name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently by someone else")
            await _until_led(admin, [t.name for t in wanted], timeout_s)
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def _until_led(admin: AIOKafkaAdminClient, names: Sequence[str], timeout_s: float) -> None:
    """Wait until every partition of the topics just created has a leader: the broker answers
    CreateTopics before its metadata says so, and a client that asks at once is told the topic does
    not exist (or its partition has no leader)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        described = await admin.describe_topics(list(names))
        led = {
            t["topic"]
            for t in described
            if not t.get("error_code") and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
        }
        if led >= set(names):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics without a leader after {timeout_s:.0f} s: {sorted(set(names) - led)}")
        await asyncio.sleep(0.1)


async def describe(
    admin: AIOKafkaAdminClient, names: Sequence[str]
) -> dict[str, tuple[int, int, str] | None]:
    """name → (partitions, replication factor, cleanup.policy), or None where the topic is missing."""
    existing = set(await admin.list_topics())
    present = [n for n in names if n in existing]
    found: dict[str, tuple[int, int, str] | None] = dict.fromkeys(names)
    if not present:
        return found
    policies: dict[str, str] = {}
    for response in await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n, {"cleanup.policy": None}) for n in present]
    ):
        for _err, _msg, _rtype, rname, entries in response.resources:
            for entry in entries:
                if entry[0] == "cleanup.policy":
                    policies[rname] = entry[1]
    for topic in await admin.describe_topics(present):
        partitions = topic["partitions"]
        replication = min((len(p["replicas"]) for p in partitions), default=0)
        found[topic["topic"]] = (len(partitions), replication, policies.get(topic["topic"], "delete"))
    return found


def problems_of(
    prefix: str,
    wanted: Iterable[str],
    found: dict[str, tuple[int, int, str] | None],
    replication: int,
) -> list[str]:
    """What differs between the topics found and the specs (pure: tested without a broker)."""
    problems: list[str] = []
    for name in wanted:
        spec = SPECS[name]
        full = prefix + name
        shape = found.get(full)
        if shape is None:
            problems.append(f"{full}: missing (expected {spec.partitions} partitions, {spec.cleanup_policy})")
            continue
        partitions, rf, policy = shape
        if partitions != spec.partitions:
            problems.append(f"{full}: {partitions} partitions, expected {spec.partitions}")
        if set(policy.split(",")) != set(spec.cleanup_policy.split(",")):
            problems.append(f"{full}: cleanup.policy {policy}, expected {spec.cleanup_policy}")
        if rf < replication:
            problems.append(f"{full}: replication factor {rf}, expected {replication}")
    return problems


async def check_topics(
    bootstrap: str,
    prefix: str,
    names: Sequence[str],
    *,
    replication: int | None = None,
    timeout_s: float = 30.0,
    settings: CommonSettings | None = None,
) -> None:
    """Raise `TopicMismatch` naming each topic of `names` that is missing or differs in partitions,
    cleanup policy or replication factor (`replication`: `SIGAP_REPLICATION_FACTOR`, else the
    default for the cluster's size); `KafkaError`/`TimeoutError` when the broker does not answer."""
    admin = await _admin(bootstrap, timeout_s, settings)
    try:
        rf = await default_replication(admin, replication)
        found = await asyncio.wait_for(describe(admin, [prefix + n for n in names]), timeout_s)
    finally:
        await admin.close()
    problems = problems_of(prefix, names, found, rf)
    if problems:
        raise TopicMismatch(problems)


def verify_or_exit(service: str, names: Sequence[str]) -> None:
    """At a service's start: check its topics, and stop the process with a message naming each
    difference when they are not right (or the broker does not answer within the check's timeout)."""
    import sys

    from services.common.base_settings import common_settings

    settings = common_settings()
    try:
        asyncio.run(
            check_topics(
                settings.kafka_bootstrap,
                settings.topic_prefix,
                names,
                replication=settings.replication_factor,
                timeout_s=settings.topic_check_timeout_s,
                settings=settings,
            )
        )
    except TopicMismatch as exc:
        sys.exit(f"{service}: cannot start: {exc}")
    except (KafkaError, OSError, TimeoutError) as exc:
        sys.exit(
            f"{service}: cannot start: the Kafka broker at {settings.kafka_bootstrap} did not answer the "
            f"topic check within {settings.topic_check_timeout_s:g} s ({type(exc).__name__}: {exc})"
        )


async def delete_topics(bootstrap: str, prefix: str, *, settings: CommonSettings | None = None) -> None:
    """Delete a prefix's topics (tests clean up after themselves)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [name for name in existing if name.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def main() -> None:
    from services.common.base_settings import common_settings

    settings = common_settings()
    created = asyncio.run(
        create_topics(
            settings.kafka_bootstrap,
            settings.topic_prefix,
            replication=settings.replication_factor,
            dispatch_log_retention_ms=settings.dispatch_log_retention_ms,
            settings=settings,
        )
    )
    names = ", ".join(settings.topic(t.name) for t in TOPICS)
    print(f"topics ready ({len(created)} created): {names}")  # noqa: T201 - a command's output
    try:
        asyncio.run(
            check_topics(
                settings.kafka_bootstrap,
                settings.topic_prefix,
                [t.name for t in TOPICS],
                replication=settings.replication_factor,
            )
        )
    except TopicMismatch as exc:
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
