"""What happens in a live meeting reaches the database (through the runtime's recorder) and the
organizer's report: attendance, speaking turns, on-air turns, listening, the meeting's end."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.conftest import Harness
from tests.support.wait import Seen, until


async def test_a_live_meeting_is_recorded_and_reported(harness: Harness) -> None:
    h = harness
    people = h.meeting.people
    chair = await h.session("chair")
    d1 = await h.session("delegate1")
    fr1 = await h.session("interpreter_fr1")
    await d1.ok("subscribe", channel="fr", floor_under=None)
    await chair.ok("floor_give", participant_id=people["delegate1"].participant_id)
    await fr1.ok("on_air", on=True)
    await fr1.ok("on_air", on=False)
    await chair.ok("floor_take", participant_id=people["delegate1"].participant_id)
    await d1.ok("subscribe", channel="floor", floor_under=None)
    await d1.send_raw('{"type": "leave"}')
    assert (await d1.wait_closed())[0] == 1000
    await chair.ok("meeting_close")

    auth = {"Authorization": f"Bearer {h.meeting.organizer_token}"}
    url = f"{h.served.base_url}/api/meetings/{h.meeting.meeting_id}/report"
    # the recorder writes in batches, off the room's path: poll for the state, with a deadline
    async with httpx.AsyncClient(headers=auth) as http:

        async def recorded() -> dict[str, Any] | Seen:
            r = await http.get(url)
            assert r.status_code == 200, r.text
            report: dict[str, Any] = r.json()
            done = (report["meeting"]["status"] == "closed" and report["speaking"]
                    and report["interpretation"] and report["listening"])
            return report if done else Seen(report)

        report = await until(recorded, "records in the report", 30, step=0.1, tolerate=())

    names = {a["name"] for a in report["attendance"]}
    assert {people["chair"].name, people["delegate1"].name,
            people["interpreter_fr1"].name} <= names
    (turn,) = report["speaking"]
    assert turn["participant_id"] == people["delegate1"].participant_id and turn["turns"] == 1
    (onair,) = report["interpretation"]
    assert onair["booth"] == "fr" and onair["participant_id"] == people[
        "interpreter_fr1"].participant_id
    assert "fr" in {row["channel"] for row in report["listening"]}
    assert [c["kind"] for c in report["lifecycle"]][-1] == "closed"
