"""Services refuse to start on missing or wrongly shaped topics (against the real broker), and
create_topics sets replication, min.insync.replicas and the audit trail's retention."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import faust
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.common.config import Settings
from services.common.faust_kafka import FaustSendRefused, broker_url, refuse_faust_sends
from services.common.topics import (
    DEAD_LETTERS,
    DISPATCH_LOG,
    INCIDENTS,
    SPECS,
    TOPICS,
    VOLUNTEERS,
    TopicMismatch,
    _until_led,
    check_topics,
    create_topics,
    delete_topics,
)

REPO = Path(__file__).resolve().parents[3]


async def _make(settings: Settings, skip: set[str], wrong: dict[str, NewTopic]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        topics = [
            wrong.get(t.name, NewTopic(settings.topic(t.name), t.partitions, 1, topic_configs=t.config))
            for t in TOPICS
            if t.name not in skip
        ]
        await admin.create_topics(topics)
        await _until_led(admin, [t.name for t in topics], 30)  # the broker's metadata lags its answer
    finally:
        await admin.close()


def _start(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", module] + (["worker", "-l", "info"] if module != "services.gateway" else [])
    return subprocess.run(
        args,
        env={**env, "SIGAP_TOPIC_CHECK_TIMEOUT_S": "10", "PATH": "/usr/bin:/bin"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
async def wrong_topics(settings: Settings) -> Settings:
    """`incidents` with 4 partitions, `volunteers` not compacted, `dispatch-log` and `deliveries` missing."""
    wrong = {
        INCIDENTS: NewTopic(settings.topic(INCIDENTS), 4, 1),
        VOLUNTEERS: NewTopic(settings.topic(VOLUNTEERS), 4, 1),
    }
    await _make(settings, {DISPATCH_LOG, "deliveries"}, wrong)
    yield settings  # type: ignore[misc]
    await delete_topics(settings.kafka_bootstrap, settings.topic_prefix)


async def test_check_names_each_topic_and_difference(wrong_topics: Settings) -> None:
    s = wrong_topics
    with pytest.raises(TopicMismatch) as caught:
        await check_topics(s.kafka_bootstrap, s.topic_prefix, [t.name for t in TOPICS])
    assert caught.value.problems == [
        f"{s.topic_prefix}incidents: 4 partitions, expected 8",
        f"{s.topic_prefix}dispatch-log: missing (expected 8 partitions, delete)",
        f"{s.topic_prefix}volunteers: cleanup.policy delete, expected compact",
        f"{s.topic_prefix}deliveries: missing (expected 4 partitions, delete)",
    ]


@pytest.mark.parametrize("module", ["services.dispatcher", "services.notifier", "services.gateway"])
async def test_a_service_refuses_to_start_on_wrong_topics(
    wrong_topics: Settings, test_env: dict[str, str], tmp_path: Path, module: str
) -> None:
    env = {**test_env, "SIGAP_DATA_DIR": str(tmp_path)}
    done = _start(module, env)
    assert done.returncode != 0
    service = module.split(".")[1]
    assert f"{service}: cannot start: topics are not as this service expects" in done.stderr
    if service == "notifier":  # the notifier does not use incidents; it does use deliveries
        assert f"{wrong_topics.topic_prefix}deliveries: missing" in done.stderr
    else:
        assert f"{wrong_topics.topic_prefix}incidents: 4 partitions, expected 8" in done.stderr
    # nothing guessed: the missing topics are still missing (no client created them)
    with pytest.raises(TopicMismatch) as caught:
        await check_topics(
            wrong_topics.kafka_bootstrap, wrong_topics.topic_prefix, ["deliveries", DISPATCH_LOG]
        )
    assert len(caught.value.problems) == 2


async def test_a_service_refuses_to_start_without_its_topics(
    settings: Settings, test_env: dict[str, str]
) -> None:
    done = _start("services.gateway", test_env)
    assert done.returncode != 0
    assert f"{settings.topic_prefix}incidents: missing (expected 8 partitions, delete)" in done.stderr


async def test_created_topics_carry_min_insync_and_the_audit_retention(settings: Settings) -> None:
    s = settings
    await create_topics(s.kafka_bootstrap, s.topic_prefix, replication=1, dispatch_log_retention_ms=3_600_000)
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    await admin.start()
    try:
        await check_topics(s.kafka_bootstrap, s.topic_prefix, [t.name for t in TOPICS], replication=1)
        wanted = {"min.insync.replicas": None, "retention.ms": None}
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, s.topic(DISPATCH_LOG), wanted)]
        )
        [(_e, _m, _t, _n, entries)] = response.resources
        values = {e[0]: e[1] for e in entries}
        assert values["min.insync.replicas"] == "1"
        assert values["retention.ms"] == "3600000"
    finally:
        await admin.close()
        await delete_topics(s.kafka_bootstrap, s.topic_prefix)


async def test_faust_refuses_to_send_a_record_of_the_apps(topics: Settings) -> None:
    """faust's producer is not idempotent: the apps' sensor refuses every record sent through it (the
    workers produce on their own producers, `kafka.new_producer`), and nothing reaches the topic."""
    app = faust.App(f"{topics.topic_prefix}refuse-test", broker=broker_url(topics.kafka_bootstrap))
    refuse_faust_sends(app)
    assert [str(u) for u in app.conf.broker] == [f"kafka://{topics.kafka_bootstrap}"]
    name = topics.topic(DEAD_LETTERS)
    topic = app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    try:
        with pytest.raises(FaustSendRefused, match="not idempotent"):
            await topic.send(key=b"k", value=b"through faust")
    finally:
        await app.producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=topics.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for p in range(SPECS[DEAD_LETTERS].partitions)]
        assert set((await consumer.end_offsets(partitions)).values()) == {0}
    finally:
        await consumer.stop()
