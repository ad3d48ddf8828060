"""The webcast and the recordings of a meeting in a cluster of two real `mirp serve` processes
sharing a media directory (MIRP_MEDIA_DIR; tests/support/cluster.py `ClusterProcs`): the origin
writes, either node serves; the origin SIGKILLed, the node left becomes the origin and carries
the playlist on (the media sequence keeps rising, its segments follow a discontinuity), and its
recording is a second part beside the first, listed by any node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.people import People
from tests.support.audio import peak_hz
from tests.support.cluster import ClusterProcs
from tests.support.factory import make_meeting
from tests.support.redis import RedisServer
from tests.support.wait import Seen, until
from tests.webcast.support import decode, playlist_segments

pytestmark = [pytest.mark.process, pytest.mark.redis, pytest.mark.rtc]

FLOOR_HZ = 300.0


@pytest.fixture
async def procs(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[ClusterProcs]:
    started = ClusterProcs(tmp_path, redis_server.url, nodes=2,
                           MIRP_MEDIA_DIR=str(tmp_path / "media"))
    try:
        await started.start()
        yield started
    finally:
        started.close()


def sequence_of(playlist: str) -> int:
    return next(int(line.split(":", 1)[1]) for line in playlist.splitlines()
                if line.startswith("#EXT-X-MEDIA-SEQUENCE:"))


async def floor_rendition(base: str, mid: str) -> tuple[str, list[str], bytes]:
    """The floor playlist as node `base` serves it, its segment names, and init + the last."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        r = await http.get(f"/webcast/{mid}/floor/index.m3u8")
        if r.status_code != 200:
            return r.text, [], b""
        names = playlist_segments(r.text)
        if not names:
            return r.text, [], b""
        init = await http.get(f"/webcast/{mid}/floor/init.mp4")
        last = await http.get(f"/webcast/{mid}/floor/{names[-1]}")
        assert init.status_code == last.status_code == 200, (init.text, last.text)
        return r.text, names, init.content + last.content


async def test_any_node_serves_the_webcast_and_a_new_origin_carries_it_on(
        procs: ClusterProcs) -> None:
    async with httpx.AsyncClient(base_url=procs.base("node-a"), timeout=30) as http:
        meeting = await make_meeting(http, delegates=1, interpreters={})
        auth = {"Authorization": f"Bearer {meeting.organizer_token}"}
        r = await http.patch(f"/api/meetings/{meeting.meeting_id}", headers=auth,
                             json={"options": {"webcast": "public", "recording": True}})
        assert r.status_code == 200, r.text
    mid = meeting.meeting_id
    people = People(procs, meeting)
    try:
        chair = await people.join("chair", "node-a", media=False)  # places the meeting
        origin = await procs.origin_of(mid)
        assert origin is not None
        other = next(n for n in procs.names if n != origin)
        delegate = await people.join("delegate1", other, tone_hz=FLOOR_HZ)
        await delegate.ws.ok("floor_request")
        assert delegate.ws.welcome is not None
        await chair.ws.ok("floor_give", participant_id=delegate.ws.welcome["participant_id"])

        seen: dict[str, Any] = {}

        async def served_by_both() -> Any:
            for node in procs.names:  # the origin wrote it; the other node serves it too
                text, names, data = await floor_rendition(procs.base(node), mid)
                peak = peak_hz(decode(data)) if data else None
                if peak is None or abs(peak - FLOOR_HZ) > 15:
                    return Seen((node, text[-200:], peak))
                seen[node] = (sequence_of(text), names)
            return True

        await until(served_by_both, "the floor's rendition with the speaker, from both nodes",
                    within=40.0)
        before_sequence, before_names = seen[other]

        procs.kill(origin)  # SIGKILL: the playlist is left live, never ended

        async def carried_on() -> Any:
            if await procs.origin_of(mid) != other:
                return Seen("the lease not yet taken")
            text, names, data = await floor_rendition(procs.base(other), mid)
            fresh = [n for n in names if n not in before_names]
            if "#EXT-X-DISCONTINUITY" not in text or not fresh or not data:
                return Seen(text[-300:])
            peak = peak_hz(decode(data))
            if abs(peak - FLOOR_HZ) > 15:
                return Seen(f"peak {peak:.0f} Hz")
            return (text, names)

        text, names = await until(carried_on, "the new origin's segments after a discontinuity",
                                  within=45.0)
        assert sequence_of(text) >= before_sequence  # never back: a player follows on
        sessions = {n.split("-", 1)[0] for n in names}
        assert len(sessions) <= 2  # the old session's tail and the new origin's

        async with httpx.AsyncClient(base_url=procs.base(other), timeout=10) as http:
            async def two_parts() -> Any:
                r = await http.get(f"/api/meetings/{mid}/recordings", headers=auth)
                parts = r.json().get("parts", []) if r.status_code == 200 else r.text
                return (isinstance(parts, list) and len(parts) >= 2) or Seen(parts)

            await until(two_parts, "the dead origin's recording and the new one's, both listed")
    finally:
        await people.close()
