"""Every record of Sigap's is produced by an idempotent producer with `acks=all`: the producers are
built by `kafka.new_producer` alone, and the faust apps produce nothing through faust's own producer
(which is idempotent only inside transactions)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.common import kafka

REPO = Path(__file__).resolve().parents[3]


def test_new_producer_waits_for_every_replica_and_writes_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []
    monkeypatch.setattr(kafka, "AIOKafkaProducer", lambda **options: built.append(options))
    kafka.new_producer("127.0.0.1:9092", "sigap-test", linger_ms=0)
    [options] = built
    assert options["acks"] == "all"
    assert options["enable_idempotence"] is True
    assert options["bootstrap_servers"] == "127.0.0.1:9092"


def _producers_built(path: Path) -> list[tuple[str, int, str]]:
    """(file, line, enclosing function) of every `AIOKafkaProducer(…)` call in a module."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call):
                callee = child.func
                name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
                if name == "AIOKafkaProducer":
                    found.append((str(path.relative_to(REPO)), child.lineno, function))
            visit(child, inner)

    visit(tree, "<module>")
    return found


def test_every_producer_of_the_services_is_built_by_new_producer() -> None:
    built = [
        site
        for root in ("services", "schemas")
        for path in sorted((REPO / root).rglob("*.py"))
        for site in _producers_built(path)
    ]
    assert [(file, function) for file, _, function in built] == [("services/common/kafka.py", "new_producer")]


PROBE = """
import inspect, json
from faust.types.enums import ProcessingGuarantee
from services.common.faust_kafka import NoFaustSends
from services.dispatcher.app import app as dispatcher
from services.notifier.app import app as notifier

def facts(app):
    return {
        "tables": sorted(app.tables),
        "yielding_agents": sorted(n for n, a in app.agents.items() if inspect.isasyncgenfunction(a.fun)),
        "agents": sorted(app.agents),
        "transactions": app.conf.processing_guarantee != ProcessingGuarantee.AT_LEAST_ONCE,
        "leader_topic": not app.conf.topic_disable_leader,
        "declares_topics": app.conf.topic_allow_declare,
        "refuses_faust_sends": any(isinstance(s, NoFaustSends) for s in app.sensors),
        "brokers": [str(u) for u in app.conf.broker],
    }

print(json.dumps({"dispatcher": facts(dispatcher), "notifier": facts(notifier)}))
"""


def test_the_faust_apps_produce_nothing_through_faust(tmp_path: Path) -> None:
    """No table (changelogs), no agent that yields (faust sends only what an agent yields to its sinks
    or as replies, and refuses sinks on an agent that does not yield), no transactions, no leader or
    declared topics; and the sensor that refuses any send through faust's producer is installed."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SIGAP_ENV": "test",
        "SIGAP_DATA_DIR": str(tmp_path),
        "SIGAP_KAFKA_BOOTSTRAP": "127.0.0.1:1,127.0.0.2:1",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    apps = json.loads(done.stdout.strip().splitlines()[-1])
    for name, facts in apps.items():
        assert facts["agents"], f"{name}: no agents found (the probe would prove nothing)"
        assert facts["tables"] == [], name
        assert facts["yielding_agents"] == [], name
        assert not facts["transactions"], name
        assert not facts["leader_topic"], name
        assert not facts["declares_topics"], name
        assert facts["refuses_faust_sends"], name
        assert facts["brokers"] == ["kafka://127.0.0.1:1", "kafka://127.0.0.2:1"], name
