"""The Redis and Sentinel configuration of deploy/k8s/redis.yaml, and the ACL users deploy/README.md has
the operator make, run with this machine's redis-server (Debian's 7.0; the manifests use 7.4): the
start scripts' rendering, the TLS settings, the ACL file, a Sentinel monitoring the primary with its
ACL user. Paths and names are mapped to a temporary folder and loopback ports of this suite's range."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from redis.exceptions import NoPermissionError

from services.common.redis import new_redis
from tests.deploy.support import free_port_in_range
from tests.support.procs import REPO

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not shutil.which("redis-server") or not shutil.which("openssl"), reason="needs redis"),
]
README = REPO / "deploy" / "README.md"


def _config() -> dict[str, str]:
    for doc in yaml.safe_load_all((REPO / "deploy" / "k8s" / "redis.yaml").read_text()):
        if doc and doc["kind"] == "ConfigMap":
            return dict(doc["data"])
    raise AssertionError("no ConfigMap in redis.yaml")


def _acl_from_readme(passwords: dict[str, str]) -> str:
    """The users.acl the runbook writes, with its shell variables filled in."""
    text = README.read_text("utf-8")
    block = re.search(r"cat >users.acl <<EOF\n(.*?)\nEOF", text, re.S)
    assert block, "deploy/README.md no longer makes users.acl"
    acl = block.group(1)
    for name, value in passwords.items():
        acl = acl.replace(f"${name}", value)
    return acl + "\n"


def _certs(folder: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ca",
        "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "tls.key",
        "-out",
        "tls.csr",
    )
    (folder / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-days", "1", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-extfile", "ext", "-out", "tls.crt")  # fmt: skip


def _render(text: str, folder: Path, port: int, sentinel_port: int) -> str:
    text = text.replace("/etc/redis-tls/", f"{folder}/").replace("/etc/redis-auth/", f"{folder}/")
    text = text.replace("dir /data", f"dir {folder}").replace("__HOSTNAME__", "redis-0")
    text = text.replace("tls-port 6379", f"tls-port {port}").replace(
        "tls-port 26379", f"tls-port {sentinel_port}"
    )
    text = text.replace("redis-0.redis-headless 6379", f"127.0.0.1 {port}")
    return text + "bind 127.0.0.1\n"


class Redis:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port

    def cli(
        self, *args: str, user: str = "sigap-gateway", password: str = "", port: int | None = None
    ) -> str:
        command = ["redis-cli", "--tls", "--cacert", str(self.folder / "ca.crt"), "-h", "127.0.0.1"]
        command += ["-p", str(port or self.port), "--no-auth-warning"]
        if password:
            command += ["--user", user, "--pass", password]
        done = subprocess.run([*command, *args], check=False, capture_output=True, text=True, timeout=10)
        return done.stdout.strip()


PASSWORDS = {
    "DSP_PW": "dispatcher-pw-0123456789",
    "NTF_PW": "notifier-pw-0123456789",
    "GW_PW": "gateway-pw-0123456789",
    "REPL_PW": "repl-pw-0123456789",
    "SENT_PW": "sent-pw-0123456789",
}


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[Redis, int]]:
    _certs(tmp_path)
    config = _config()
    port, sentinel_port = free_port_in_range(), free_port_in_range()
    (tmp_path / "users.acl").write_text(_acl_from_readme(PASSWORDS))
    (tmp_path / "replication-password").write_text(PASSWORDS["REPL_PW"])
    (tmp_path / "sentinel-password").write_text(PASSWORDS["SENT_PW"])
    redis_conf = _render(config["redis.conf"], tmp_path, port, sentinel_port)
    redis_conf += f"masterauth {PASSWORDS['REPL_PW']}\n"  # what start-redis.sh appends
    (tmp_path / "redis.conf").write_text(redis_conf)
    sentinel_conf = _render(config["sentinel.conf"], tmp_path, port, sentinel_port)
    sentinel_conf += f"sentinel auth-pass sigap {PASSWORDS['SENT_PW']}\n"  # what start-sentinel.sh appends
    (tmp_path / "sentinel.conf").write_text(sentinel_conf)
    log = (tmp_path / "redis.log").open("w")
    procs = [
        subprocess.Popen(["redis-server", str(tmp_path / "redis.conf")], stdout=log, stderr=subprocess.STDOUT)
    ]
    redis = Redis(tmp_path, port)
    try:
        _wait(
            lambda: redis.cli("ping", password=PASSWORDS["GW_PW"]) == "PONG",
            procs[0],
            tmp_path / "redis.log",
        )
        procs.append(
            subprocess.Popen(["redis-server", str(tmp_path / "sentinel.conf"), "--sentinel"],
                             stdout=(tmp_path / "sentinel.log").open("w"), stderr=subprocess.STDOUT)
        )  # fmt: skip
        yield redis, sentinel_port
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def _wait(check, proc: subprocess.Popen[bytes] | None, log: Path, timeout_s: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        assert proc is None or proc.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.1)


def test_primary_runs_the_manifest_config_with_the_runbook_acl(started: tuple[Redis, int]) -> None:
    redis, _ = started
    dispatcher = {"user": "sigap-dispatcher", "password": PASSWORDS["DSP_PW"]}
    gateway = {"user": "sigap-gateway", "password": PASSWORDS["GW_PW"]}
    assert redis.cli("set", "sigap:vol:V-1", "1", **dispatcher) == "OK"
    assert redis.cli("get", "sigap:vol:V-1", **gateway) == "1"  # a read model: readable
    assert "NOPERM" in redis.cli("set", "sigap:vol:V-1", "2", **gateway)  # but not the gateway's to write
    assert redis.cli("set", "sigap:idem:k", "1", **gateway) == "OK"
    assert "NOPERM" in redis.cli("get", "sigap:idem:k", **dispatcher)  # the gateway's private keys
    assert "NOPERM" in redis.cli("set", "other:probe", "1", **dispatcher)
    assert "NOPERM" in redis.cli("flushall", **dispatcher)
    assert "NOAUTH" in redis.cli("get", "sigap:vol:V-1") or "AUTH" in redis.cli("get", "sigap:vol:V-1")
    assert redis.cli("config", "get", "appendonly", **gateway).count("yes") == 0  # no CONFIG
    assert redis.cli("ping", user="replication", password=PASSWORDS["REPL_PW"]) == "PONG"


def _sentinel_names_the_primary(redis: Redis, sentinel_port: int) -> None:
    _wait(
        lambda: (
            redis.cli("sentinel", "get-master-addr-by-name", "sigap", port=sentinel_port).splitlines()[:1]
            == ["127.0.0.1"]
        ),
        None,
        redis.folder / "sentinel.log",
    )


def test_sentinel_monitors_the_primary_with_its_acl_user(started: tuple[Redis, int]) -> None:
    redis, sentinel_port = started
    _sentinel_names_the_primary(redis, sentinel_port)

    def connected() -> bool:
        fields = redis.cli("sentinel", "master", "sigap", port=sentinel_port).splitlines()
        master = dict(zip(fields[::2], fields[1::2], strict=False))
        # the run id comes from the primary's INFO: Sentinel reached it over TLS and signed in as its ACL
        # user (with a wrong password: no run id, flags "master,disconnected")
        return bool(master.get("runid")) and master.get("flags") == "master"

    _wait(connected, None, redis.folder / "sentinel.log", timeout_s=20)


def test_a_service_finds_the_tls_primary_through_the_tls_sentinels(started: tuple[Redis, int]) -> None:
    """What deploy/k8s's services do (`SIGAP_REDIS_SENTINELS` with a `rediss://` URL): ask the
    sentinels over TLS for the primary, then speak TLS to it as the service's ACL user."""
    redis, sentinel_port = started
    _sentinel_names_the_primary(redis, sentinel_port)
    url = f"rediss://sigap-gateway:{PASSWORDS['GW_PW']}@unused:1/0?ssl_ca_certs={redis.folder / 'ca.crt'}"

    async def use() -> tuple[object, object, str]:
        client = new_redis(url, sentinels=f"127.0.0.1:{sentinel_port}", master="sigap")
        try:
            await client.set("sigap:idem:through-sentinel", "1")
            try:
                await client.set("sigap:vol:V-1", "x")
                refused = ""
            except NoPermissionError as exc:  # the gateway's user, as the manifest's env makes it
                refused = str(exc)
            return await client.get("sigap:idem:through-sentinel"), await client.ping(), refused
        finally:
            await client.aclose()

    value, pong, refused = asyncio.run(use())
    assert (value, pong) == ("1", True)
    assert "no permissions" in refused
