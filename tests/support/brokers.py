"""A Kafka broker or cluster, and Redis under Sentinel, of the test's own: started and stopped with
`deploy/local/kafka.sh` and `sentinel.sh` on ports apart from the shared ones (which tests never stop)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"


def run_script(script: Path, args: tuple[str, ...], env: dict[str, str], timeout_s: float) -> str:
    """`bash <script> <args>` with `env`; its output, or a `RuntimeError` with the end of its errors."""
    done = subprocess.run(
        ["bash", str(script), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


@dataclass(frozen=True)
class OwnKafka:
    """`nodes` combined broker+controller nodes: brokers on `port`…, controllers on `controller_port`…"""

    data_dir: Path
    port: int
    controller_port: int
    nodes: int = 1
    heap: str = "384m"

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + i}" for i in range(self.nodes))

    def env(self) -> dict[str, str]:
        return {
            "SIGAP_KAFKA_NODES": str(self.nodes),
            "SIGAP_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.port}",
            "SIGAP_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "SIGAP_DATA_DIR": str(self.data_dir),
            "SIGAP_KAFKA_HEAP": self.heap,
        }

    def run(self, *args: str, timeout_s: float = 180) -> None:
        run_script(KAFKA_SH, args, self.env(), timeout_s)

    def start(self) -> None:
        self.run("start")

    def stop(self) -> None:
        self.run("stop")

    def kill_node(self, node: int) -> None:
        self.run("kill-node", str(node))

    def start_node(self, node: int) -> None:
        self.run("start-node", str(node))


SENTINEL_SH = REPO / "deploy" / "local" / "sentinel.sh"


@dataclass(frozen=True)
class OwnSentinel:
    """One Redis primary, two replicas (`node_port`…+2) and three sentinels (`sentinel_port`…+2)."""

    data_dir: Path
    node_port: int
    sentinel_port: int
    master: str = "sigap"

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{self.sentinel_port + i}" for i in range(3))

    def run(self, *args: str, timeout_s: float = 60) -> str:
        env = {
            "SIGAP_DATA_DIR": str(self.data_dir),
            "SIGAP_SENTINEL_REDIS_PORT": str(self.node_port),
            "SIGAP_SENTINEL_PORT": str(self.sentinel_port),
            "SIGAP_REDIS_SENTINEL_MASTER": self.master,
        }
        return run_script(SENTINEL_SH, args, env, timeout_s)

    def start(self) -> None:
        self.run("start")

    def stop(self) -> None:
        self.run("stop")

    def primary(self) -> str:
        return self.run("primary")

    def kill_primary(self) -> int:
        return int(self.run("kill-primary"))

    def start_node(self, node: int) -> None:
        self.run("start-node", str(node))

    def restart_node(self, node: int) -> None:
        self.run("restart-node", str(node))
