"""Summarise a py-spy `--format raw` profile (collapsed stacks): where a service's time goes.

`python -m bench.profile_summary FILE [--top N] [--filter services.]` prints the functions with the most
samples on top of the stack (self time) and anywhere in it (inclusive time), as shares of all samples.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")


def _short(frame: str) -> str:
    """`func (path/to/file.py:12)` → `file.py:func`, with the path shortened to the package."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{match['func']}"


def summarise(path: Path, *, top: int = 25, only: str | None = None) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    idle = 0
    for line in path.read_text("utf-8", "replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        leaf = frames[-1]
        if "select" in leaf and ("selectors.py" in leaf or "epoll" in leaf):
            idle += count
        own[leaf] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return f"{path}: no samples"

    def table(counter: Counter[str]) -> list[str]:
        rows = [(f, n) for f, n in counter.most_common() if only is None or only in f][:top]
        return [f"  {100 * n / total:5.1f}%  {f}" for f, n in rows]

    lines = [f"{path}: {total} samples, {100 * idle / total:.1f}% waiting in the event loop's select"]
    lines += [
        "self time (top of stack):",
        *table(own),
        "inclusive time (anywhere on the stack):",
        *table(inclusive),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_summary")
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--filter", default=None, help="only frames whose name contains this")
    args = parser.parse_args(argv)
    print(summarise(args.profile, top=args.top, only=args.filter))


if __name__ == "__main__":
    main()
