"""Joins the server refused, kept for the statistics without letting a flood fill the table.

Anyone can send a hello with a bad token to a meeting's URL, so each meeting gets at most
`per_minute` FailedJoinRecords per clock minute; beyond that, and for refusals that name no
meeting we know (`not_found`), only this process's counters grow (they are the live metrics'
business, not the report's). Pure: the registry gives it the time and puts the records.
"""

from __future__ import annotations

from mirp.errors import MirpError, NotFound
from mirp.rooms.model import FailedJoinRecord, Role, utc

MAX_MEETINGS_PER_MINUTE = 10_000  # distinct meetings counted in one minute (ids come from URLs)


def reason_of(error: MirpError) -> str:
    """The refusal's reason code: the error's `reason` detail (revoked, removed, closed...),
    else its code (unauthorized, meeting_full...)."""
    reason = error.details.get("reason") if isinstance(error.details, dict) else None
    return reason if isinstance(reason, str) and reason else error.code


class FailedJoins:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.minute = -1
        self.counts: dict[str, int] = {}  # this minute's records per meeting
        self.dropped = 0  # refusals over the cap: counted, not recorded
        self.unattributed = 0  # refusals for no known meeting: counted, not recorded

    def refused(
        self,
        meeting_id: str | None,
        error: MirpError,
        now: float,
        participant_id: str | None = None,
        role: Role | None = None,
    ) -> FailedJoinRecord | None:
        """The record to keep for this refusal, or None (counted only)."""
        if meeting_id is None or isinstance(error, NotFound):
            self.unattributed += 1
            return None
        minute = int(now // 60)
        if minute != self.minute:
            self.minute, self.counts = minute, {}
        n = self.counts.get(meeting_id, 0)
        if n >= self.per_minute or (n == 0 and len(self.counts) >= MAX_MEETINGS_PER_MINUTE):
            self.dropped += 1
            return None
        self.counts[meeting_id] = n + 1
        return FailedJoinRecord(
            meeting_id,
            reason_of(error),
            utc(now),
            participant_id=participant_id,
            role=role,
        )
