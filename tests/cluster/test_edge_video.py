"""The floor video through edges (media/video_relay.py, rooms/edge_plane.py, rooms/edge_media.py):
three nodes in one test process (an origin and two edges, each its own LocalPlane and relay UDP
socket, over the same cluster fixtures as tests/cluster/test_edge_media.py), real aiortc peers
whose cameras draw a tag and a frame counter into each frame (tests/media/video_peer.py). The
publisher's RTP crosses undecoded to the nodes with viewers of it; each node's own forwarder
fans it out; the viewers decode the frames and read the counter."""

from __future__ import annotations

import time
from itertools import pairwise
from typing import Any

import pytest

from mirp.rooms import commands as c
from tests.cluster.test_edge_media import Entered, Node, floor_to
from tests.cluster.test_edge_media import nodes as nodes  # the fixture: three nodes
from tests.media.video_peer import VideoPeer
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.rtc]


async def camera(who: Entered, tag: int | None = None) -> VideoPeer:
    """Their peer, with a camera drawing `tag` (None: a viewer only)."""
    client = VideoPeer(camera_tag=tag, name=who.pid)
    who.client = client
    who.node.clients.append(client)
    await client.connect(lambda sdp: who.room.offer(who.pid, who.session, sdp))
    await client.wait_connected()
    return client


async def sees(viewer: VideoPeer, tag: int, what: str, since: float = 0.0) -> None:
    """Until this viewer decoded 10 frames of `tag` after `since`, counting upwards."""
    def rising() -> Any:
        got = viewer.frames_of(tag, since)
        counters = [f.counter for f in got[-10:]]
        ups = sum(1 for a, b in pairwise(counters)
                  if (b - a) % 256 in range(1, 8))
        return (len(got) >= 10 and ups >= 8) or Seen(
            f"{len(got)} frames of tag {tag}, counters {counters}, "
            f"last {viewer.frames_seen[-1:]}")

    await until(rising, f"{viewer.name}: {what}", within=30.0)


async def next_frame(viewer: VideoPeer, tag: int) -> None:
    since = time.monotonic()
    await until(lambda: bool(viewer.frames_of(tag, since)) or Seen(viewer.frames_seen[-1:]),
                f"{viewer.name}: the next frame", within=10.0)


async def test_viewers_on_every_node_see_the_speaker_on_an_edge_and_follow_a_switch(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, edge_b = nodes
    chair = await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    d3 = await edge_b.enter("d3")
    assert "m1" in edge_a.door.remotes and "m1" in edge_b.door.remotes
    v_chair = await camera(chair)
    v1 = await camera(d1)
    v2 = await camera(d2, tag=2)
    v3 = await camera(d3, tag=3)
    room = origin.registry.rooms["m1"].room
    # the origin's Room knows which edge peers send a camera (the chair's view shows it)
    assert room.participants["p_d2"].camera and not room.participants["p_d1"].camera
    await floor_to(chair, d2)
    await sees(v1, 2, "a viewer on the origin sees the speaker on edge A")
    await sees(v3, 2, "a viewer on edge B sees the speaker on edge A (through the origin)")
    await sees(v_chair, 2, "the chair on the origin sees the speaker on edge A")
    a, o, b = await edge_a.stats(), await origin.stats(), await edge_b.stats()
    assert a.relay.video_out > 0 and o.relay.video_in > 0 and b.relay.video_in > 0
    assert a.video.get("packets_in", 0) > 0 and b.video.get("packets_sent", 0) > 0

    switched = time.monotonic()
    await floor_to(chair, d3)  # now the camera on edge B: every viewer follows
    await sees(v1, 3, "the viewer on the origin sees the new speaker on edge B", switched)
    await sees(v2, 3, "the first speaker, on edge A, sees the new one on edge B", switched)
    await sees(v_chair, 3, "the chair sees the new speaker", switched)
    # each viewer's stream stayed one stream: one SSRC, from the first packet to the last
    for viewer in (v1, v_chair):
        assert len({rtp.ssrc for rtp in viewer.video_rtp}) == 1, viewer.name
    assert v3.frames_of(3) == []  # nobody sees their own camera


async def test_a_node_without_viewers_of_a_camera_receives_none_of_it(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, edge_b = nodes
    chair = await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    d3 = await edge_b.enter("d3")
    await d3.command(c.VideoSet(on=False))  # edge B's only participant: audio only
    v1 = await camera(d1)
    await camera(chair)
    await camera(d2, tag=2)
    await camera(d3)
    await floor_to(chair, d2)
    await sees(v1, 2, "the viewer on the origin sees the speaker on edge A")

    async def none_to_b() -> Any:
        o, b = await origin.stats(), await edge_b.stats()
        ok = (o.relay.video_in > 200 and b.relay.video_in == 0
              and b.relay.video_unwanted == 0 and b.video.get("publishers", 0) == 0)
        return ok or Seen((o.relay, b.relay, b.video))

    await until(none_to_b, "the origin relays the camera on; edge B receives none of it",
                within=30.0)


async def test_a_speaker_on_an_edge_without_a_camera_stops_the_video_everywhere(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, _ = nodes
    chair = await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    d4 = await edge_a.enter("d4")
    v1 = await camera(d1)
    await camera(chair)
    await camera(d2, tag=2)
    await camera(d4)  # no camera: takes the floor audio only
    await floor_to(chair, d2)
    await sees(v1, 2, "the viewer on the origin sees the speaker on edge A")
    await floor_to(chair, d4)

    async def stopped() -> Any:
        o = (await origin.stats()).video
        ok = o.get("publishers") == 0 and o.get("viewers_off") == 2
        return ok or Seen(o)

    await until(stopped, "the origin's viewers show nothing at once (not the old speaker)",
                within=30.0)

    await d4.command(c.FloorWithdraw())  # d2 still holds the floor: shown again
    await sees(v1, 2, "the speaker on edge A again", since=time.monotonic())
    await floor_to(chair, d1)  # on the origin, without a camera: edge A's viewers stop too

    async def stopped_on_a() -> Any:
        a = (await edge_a.stats()).video
        return a.get("viewers_off") == 2 or Seen(a)

    await until(stopped_on_a, "edge A's viewers show nothing at once", within=30.0)


async def test_keyframe_requests_from_other_nodes_reach_the_publisher_coalesced(
        nodes: tuple[Node, Node, Node]) -> None:
    origin, edge_a, edge_b = nodes
    chair = await origin.enter("chair")
    d1 = await origin.enter("d1")
    d2 = await edge_a.enter("d2")
    d3 = await edge_b.enter("d3")
    v1 = await camera(d1)
    await camera(chair)
    publisher = await camera(d2, tag=2)
    v3 = await camera(d3)
    await floor_to(chair, d2)
    await sees(v1, 2, "the viewer on the origin sees the speaker on edge A")
    await sees(v3, 2, "the viewer on edge B sees the speaker on edge A")
    before = publisher.keyframe_requests
    start, asks = time.monotonic(), 0
    while time.monotonic() - start < 2.0:  # both viewers ask for a keyframe with every frame
        for viewer in (v1, v3):
            await viewer.video.receiver._send_rtcp_pli(viewer.video_rtp[-1].ssrc)
        asks += 2
        await next_frame(v1, 2)  # paced by the frames
    elapsed = time.monotonic() - start

    async def arrived() -> Any:
        o, b = await origin.stats(), await edge_b.stats()
        return (o.video["plis_from_viewers"] + b.video["plis_from_viewers"] >= asks
                and o.relay.video_plis_in > 0) or Seen((o.video, b.video, o.relay))

    await until(arrived, "the viewers' PLIs reached their nodes, and B's the origin")
    got = publisher.keyframe_requests - before
    limit = elapsed / 0.5 + 3  # one per pli_interval_s on the publisher's node, whoever asks
    a = await edge_a.stats()
    print(f"\n{asks} PLIs from viewers on two other nodes in {elapsed:.1f} s -> {got} keyframe "
          f"requests to the publisher; relayed in at its node: {a.relay.video_plis_in}")
    assert a.relay.video_plis_in > 0, a.relay  # they did cross to the publisher's node
    assert 0 < got <= limit, (got, limit, asks)
    await sees(v3, 2, "the viewers still see", since=time.monotonic())
