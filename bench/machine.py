"""Facts about the machine and the code a run measured: cores, RAM, Python, git commit, load."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _meminfo_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD") or "unknown", "dirty": bool(status)}


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def cpu_gauge_s() -> float:
    """Seconds one core takes for a fixed pure-Python loop (5 million additions), best of three. The
    machine is a shared virtual one whose speed drifts: on 2026-11-28 the bare relay's p99 went from 5
    to 21 ms within an hour with nothing else running, and a module-level loop of twice the length
    took 0.96 to 1.6 s between runs minutes apart. Taken at the start and at the end of a run, it says how
    fast the machine was while it measured."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for n in range(5_000_000):
            total += n
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def machine_facts() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_mb": _meminfo_mb("MemTotal"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "event_loop": os.environ.get("SIGAP_EVENT_LOOP", "uvloop"),  # services, relays, the bench
        "load_average_at_start": load_average(),
        "cpu_gauge_s_at_start": cpu_gauge_s(),
        **git_commit(),
    }


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the peak resident set size) of a live process, in MiB; None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None
