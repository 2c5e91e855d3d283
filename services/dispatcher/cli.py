"""The dispatcher's own commands, next to faust's (`python -m services.dispatcher --help`)."""

from __future__ import annotations

from typing import Any

from services.dispatcher.app import app, settings
from services.dispatcher.volunteers import rebuild_roster


@app.command()
async def rebuild_roster_command(self: Any) -> None:
    """Rebuild the Redis roster from the compacted volunteers topic, then exit."""
    count = await rebuild_roster(settings)
    self.say(f"roster rebuilt: {count} records from {settings.topic('volunteers')}")
