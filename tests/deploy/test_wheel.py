"""The package as an operator installs it: build the wheel, install it into a fresh venv, and start the
dispatcher and the gateway from a folder that is not the checkout, as a user whose home is empty.

The fresh venv gets the wheel itself (`pip install --no-deps`) and sees the project venv's installed
dependencies through a `.pth` line (reinstalling ~60 packages would take minutes on this machine);
`pip check` in the fresh venv then proves the wheel's declared requirements are all met by them. The
checkout is on no path of the started processes, so run cards, Lua scripts, templates, static files
and reference data can only come from the wheel."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.config import Settings
from tests.deploy.support import InstalledProcess, free_port_in_range
from tests.support.cli import COMMANDS, LISTED
from tests.support.procs import REPO

pytestmark = pytest.mark.integration
SOURCES = ("pyproject.toml", "README.md", "schemas", "services")  # as deploy/container/Dockerfile copies


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a clean copy of what the image copies too: a checkout's leftover `build/` and
    `*.egg-info` (its SOURCES.txt) would otherwise add files the package data does not name."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, src / name)
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        check=True,
        timeout=120,
    )
    (found,) = out.glob("sigap-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the wheel installed; returns its python."""
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site / "_project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        timeout=120,
    )
    yield python


def test_wheel_carries_its_data(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for wanted in (
        "services/dispatcher/runcards.toml",
        "services/dispatcher/lua/search.lua",
        "services/notifier/lua/claim.lua",
        "services/gateway/templates/board.html",
        "services/gateway/static/board.js",
        "schemas/data/kediri_wilayah.csv",
        "schemas/json/incident.reported.json",
    ):
        assert wanted in names, wanted


def test_the_package_comes_from_the_venv_and_its_requirements_hold(installed: Path, tmp_path: Path) -> None:
    where = subprocess.check_output(
        [str(installed), "-c", "import services, schemas; print(services.__file__); print(schemas.__file__)"],
        cwd=tmp_path,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
    ).split()
    assert all(path.startswith(str(installed.parents[1])) for path in where), where
    check = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(installed), "check"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_sigap_console_script_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    """The `sigap` entry point (`services.cli:main`) as installed, and `python -m services.cli` alike."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SIGAP_ENV": "local"}
    for command in ([str(installed.parent / "sigap")], [str(installed), "-m", "services.cli"]):
        shown = subprocess.run(
            [*command, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert shown.returncode == 0, shown.stderr
        assert tuple(re.findall(LISTED, shown.stdout, flags=re.MULTILINE)) == COMMANDS
        info = subprocess.run(
            [*command, "info"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert info.returncode == 0, info.stderr
        assert info.stdout.startswith("board:   http://127.0.0.1:8080/board\n")
        usage = subprocess.run(
            [*command, "incident"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert usage.returncode == 2 and "required: ACTION" in usage.stderr


async def test_dispatcher_and_gateway_start_from_another_folder(
    installed: Path, topics: Settings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    elsewhere = tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    gateway_port, dispatcher_port = free_port_in_range(), free_port_in_range()
    env = {
        "PATH": f"{installed.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "SIGAP_ENV": "test",
        "SIGAP_KAFKA_BOOTSTRAP": topics.kafka_bootstrap,
        "SIGAP_REDIS_URL": topics.redis_url,
        "SIGAP_TOPIC_PREFIX": topics.topic_prefix,
        "SIGAP_REDIS_PREFIX": topics.redis_prefix,
        "SIGAP_HTTP_PORT": str(gateway_port),
        "SIGAP_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
        "SIGAP_DISPATCHER_PORT": str(dispatcher_port),
    }
    procs = [
        InstalledProcess(installed, ["-m", "services.gateway"], env, tmp_path / "gateway.log", elsewhere),
        InstalledProcess(
            installed,
            ["-m", "services.dispatcher", "worker", "-l", "info"],
            env,
            tmp_path / "dispatcher.log",
            elsewhere,
        ),
    ]
    try:
        for proc in procs:
            proc.start()
        procs[0].wait_http(f"http://127.0.0.1:{gateway_port}/healthz", 60)
        # the dispatcher's /healthz makes its runtime, which loads the run cards
        procs[1].wait_http(f"http://127.0.0.1:{dispatcher_port}/healthz", 90)
        async with httpx.AsyncClient() as client:
            alive = await client.get(f"http://127.0.0.1:{dispatcher_port}/livez")
            assert alive.status_code == 200 and alive.json()["status"] == "alive"
            board = await client.get(f"http://127.0.0.1:{gateway_port}/static/board.js")
            assert board.status_code == 200  # static files from the wheel
            login = await client.get(f"http://127.0.0.1:{gateway_port}/board/login")
            assert login.status_code == 200 and "<form" in login.text  # templates from the wheel
        # state went to the XDG state dir of the user, not beside the installed code
        state = home / ".local" / "state" / "sigap" / "faust" / f"{topics.topic_prefix}dispatcher"
        assert state.is_dir(), sorted(str(p) for p in home.rglob("*"))[:20]
    finally:
        for proc in procs:
            proc.stop()
