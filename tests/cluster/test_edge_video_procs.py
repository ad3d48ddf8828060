"""The floor video across three real `mirp serve` processes on loopback (tests/support/cluster.py
`ClusterProcs`), each with its own media process: clients join as a browser does (/api/join's
token, the WebSocket on a node, an offer with a video m-line), real aiortc peers whose cameras
draw a tag and a frame counter into each frame (tests/media/video_peer.py).

The meeting's origin is where the chair's join placed it; a delegate with a camera on an edge
is given the floor; the chair and an observer, on the two other nodes (the origin and the
other edge), decode its frames and read a rising counter: the camera crossed media processes,
undecoded, over the UDP relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.cluster.people import People, Person
from tests.cluster.test_edge_video import sees
from tests.integration.conftest import WsClient
from tests.media.video_peer import VideoPeer
from tests.support.cluster import ClusterProcs
from tests.support.factory import make_meeting
from tests.support.redis import RedisServer

pytestmark = [pytest.mark.process, pytest.mark.redis, pytest.mark.rtc]


@pytest.fixture
async def procs(tmp_path: Any, redis_server: RedisServer) -> AsyncIterator[ClusterProcs]:
    started = ClusterProcs(tmp_path, redis_server.url)
    try:
        await started.start()
        yield started
    finally:
        started.close()


async def join(people: People, key: str, node: str, tag: int | None = None) -> VideoPeer:
    """As People.join, with a video m-line (a camera drawing `tag`, or receive only)."""
    ws = await WsClient.open(people.procs.ws(node), f"{key}@{node}")
    welcome = await ws.hello(people.meeting.tokens[key])
    assert welcome.get("type") == "welcome", (welcome, people.procs.logs())
    peer = VideoPeer(camera_tag=tag, name=f"{key}@{node}")

    async def signal(sdp: str) -> str:
        reply = await ws.request("offer", sdp=sdp)
        assert reply.get("type") == "answer", (key, reply)
        return str(reply["sdp"])

    people.all.append(Person(key, node, ws, peer))
    await peer.connect(signal)
    await peer.wait_connected(within_s=20.0)
    return peer


async def test_the_floor_video_crosses_media_processes(procs: ClusterProcs) -> None:
    async with httpx.AsyncClient(base_url=procs.base("node-a"), timeout=30) as http:
        meeting = await make_meeting(http, delegates=1, interpreters={})
    people = People(procs, meeting)
    try:
        chair_video = await join(people, "chair", "node-a")  # places the meeting
        origin = await procs.origin_of(meeting.meeting_id)
        assert origin is not None
        edges = [n for n in procs.names if n != origin]
        # the speaker on an edge; the chair and the observer on the two other nodes (one of
        # them the origin, the other an edge): a viewer on the origin, one on another edge
        speaker_node = next(n for n in edges if n != "node-a")
        observer_node = next(n for n in procs.names if n not in ("node-a", speaker_node))
        await join(people, "delegate1", speaker_node, tag=5)
        viewer = await join(people, "observer", observer_node)
        chair, delegate = (next(p for p in people.all if p.key == k)
                           for k in ("chair", "delegate1"))
        await delegate.ws.ok("floor_request")
        assert delegate.ws.welcome is not None
        await chair.ws.ok("floor_give", participant_id=delegate.ws.welcome["participant_id"])
        await sees(viewer, 5, f"the observer on {observer_node} sees the speaker's camera")
        await sees(chair_video, 5, "the chair on node-a sees the speaker's camera")
    finally:
        await people.close()
