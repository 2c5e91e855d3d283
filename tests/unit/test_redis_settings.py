"""A deployment's Redis keys share one hash tag, so a Redis Cluster keeps each script in one slot."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.common.config import Settings
from services.common.readmodels import Keys
from services.dispatcher.roster import RosterKeys
from services.dispatcher.store import IncidentStore


def slot_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes (its first non-empty `{…}`)."""
    start = key.find("{")
    end = key.find("}", start + 1)
    return key[start + 1 : end] if start >= 0 and end > start + 1 else key


@pytest.fixture(autouse=True)
def _no_redis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGAP_REDIS_PREFIX", raising=False)
    monkeypatch.delenv("SIGAP_REDIS_CLUSTER", raising=False)


def test_the_default_prefix_puts_every_key_of_a_deployment_in_one_slot() -> None:
    settings = Settings()
    assert settings.redis_prefix == "{sigap}:"
    keys, own = Keys(settings.redis_prefix), RosterKeys(settings.redis_prefix)
    store = IncidentStore.__new__(IncidentStore)
    store.prefix = settings.redis_prefix
    names = [
        keys.incident("INC-1"),
        keys.volunteer("V-1"),
        keys.offer("of-1"),
        keys.outbox,
        keys.idempotency("k"),
        own.geo("tagana", "evacuation"),
        own.deadlines,
        own.generation,
        store.state_key("INC-1"),
        store.understaffed_kind_key("tagana"),
    ]
    assert {slot_tag(n) for n in names} == {"sigap"}


def test_a_cluster_needs_a_hash_tag_in_the_prefix() -> None:
    assert Settings(redis_cluster=True, redis_prefix="{kediri}:").redis_prefix == "{kediri}:"
    assert Settings(redis_prefix="sigap:").redis_prefix == "sigap:"  # one Redis: still works
    with pytest.raises(ValidationError, match="hash tag"):
        Settings(redis_cluster=True, redis_prefix="sigap:")
