"""One interpreter's console: what they hear, and whether auto-relay chooses it for them.

What an interpreter speaks into and whether they are on air belong to their Booth (one voice
per booth); what they hear is theirs alone. `auto` is True while the server may move them
between the floor and a relay (auto-relay); picking a source by hand turns it off until the
floor language changes, when every console follows auto-relay again (a new language is a new
situation: the booth must hear something it understands).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mirp.errors import InvalidInput
from mirp.interpretation.routing import FLOOR


@dataclass(slots=True)
class Console:
    participant_id: str
    booth: str
    auto: bool = True

    def view(self, hearing: str, connected: bool) -> dict[str, object]:
        return {"hearing": hearing, "auto": self.auto, "connected": connected}


def check_source(channel: str, languages: Sequence[str]) -> None:
    """An interpreter hears the floor or a meeting language's channel (a relay)."""
    if channel != FLOOR and channel not in languages:
        raise InvalidInput(
            f"no channel {channel!r} in this meeting",
            {"channel": channel, "channels": [FLOOR, *languages]},
        )
