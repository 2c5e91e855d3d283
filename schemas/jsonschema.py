"""Write the JSON Schema of every event to `schemas/json/`: `python -m schemas.jsonschema`.

`--check` exits non-zero when a file is stale (the test suite runs the same comparison).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.envelope import EVENT_TYPES, Envelope

OUT_DIR = Path(__file__).parent / "json"


def render_all() -> dict[str, str]:
    """File name → JSON text, for every event type."""
    files: dict[str, str] = {}
    for event_type, cls in sorted(EVENT_TYPES.items()):
        schema = Envelope[cls].model_json_schema()  # type: ignore[valid-type]  # parametrised per payload class
        schema["title"] = event_type
        schema["$id"] = f"https://sigap.kedirikota.go.id/schemas/{event_type}.json"
        schema["description"] = (cls.__doc__ or event_type).strip().splitlines()[0]
        files[f"{event_type}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def stale_files(out_dir: Path = OUT_DIR) -> list[str]:
    expected = render_all()
    stale = [
        name
        for name, text in expected.items()
        if not (out_dir / name).is_file() or (out_dir / name).read_text("utf-8") != text
    ]
    extra = [p.name for p in out_dir.glob("*.json") if p.name not in expected]
    return sorted(stale + extra)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        stale = stale_files()
        if stale:
            sys.stderr.write("stale JSON Schema files (run `make schemas`): " + ", ".join(stale) + "\n")
            return 1
        return 0
    OUT_DIR.mkdir(exist_ok=True)
    for old in OUT_DIR.glob("*.json"):
        old.unlink()
    for name, text in render_all().items():
        (OUT_DIR / name).write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
