"""The media plane in its own process (media/process.py + media/worker.py), driven directly:
bad input over the seam gets typed errors and the child keeps running; a killed child is noticed
at once, its peers reported gone, and a new one started with the current plan."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mirp.errors import InvalidInput, InvalidSdp, MirpError, NotFound
from mirp.media import wire
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.plane import Levels, MediaEvent, PeerGone, PlaneConfig
from mirp.media.process import CRASH_REASON, ProcessPlane
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.process, pytest.mark.rtc]


@pytest.fixture
async def plane() -> AsyncIterator[ProcessPlane]:
    p = ProcessPlane(request_timeout_s=20.0)
    await p.start()
    try:
        yield p
    finally:
        await p.close()


async def test_the_child_reports_its_self_check_to_the_parent(plane: ProcessPlane) -> None:
    """With the pinned aiortc/aioice every fast path is on in the media process, and the parent
    knows it from the Ready message and from every stats answer (what /readyz shows)."""
    check = plane.self_check
    assert check is not None and check.pinned and check.all_on, check
    stats = await plane.stats()
    assert stats.self_check == check
    assert stats.video["publishers"] == 0 and stats.video["viewers"] == 0  # the video forwarder


def _raw(plane: ProcessPlane, data: bytes) -> None:
    child = plane._child
    assert child is not None
    child.writer.write(data)


async def test_bad_input_over_the_seam_gets_typed_errors_and_the_child_keeps_running(
        plane: ProcessPlane) -> None:
    pid = plane.pid
    assert pid is not None
    with pytest.raises(InvalidSdp):
        await plane.offer("p1", "this is not SDP")
    with pytest.raises(InvalidSdp):
        await plane.offer("p1", "")
    with pytest.raises(NotFound):  # no such peer: typed, not a crash
        await plane.candidate("nobody", {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"})
    with pytest.raises(NotFound):
        await plane.candidate("nobody", None)
    # fire-and-forget commands about unknown peers are no-ops
    plane.listen("nobody", FeedKey("m/floor"))
    plane.unlisten("nobody")
    plane.close_peer("nobody")
    # frames that are not messages: skipped, the stream stays in step
    for body in (b"{", b'["NoSuchMessage", []]', b'["Listen", [1]]', b'["Listen", [7, [1]]]'):
        _raw(plane, struct.pack(">I", len(body)) + body)
    plane.apply(MixPlan.of({FeedKey("m/floor"): (("p1", 1.0),)}))

    async def plan_in_use() -> Any:
        s = await plane.stats()
        return (s.engine.feeds == 1 and s.engine.ticks > 0) or Seen(s)

    await until(plan_in_use, "the plan sent after the garbage, in use")
    assert plane.pid == pid and plane.restarts == 0 and (await plane.stats()).peers == 0


async def test_a_peer_closed_right_after_its_offer_is_not_left_behind() -> None:
    """Commands are ordered: a close_peer written right after an offer closes that offer's peer,
    though the handshake runs in a task of the media process. (The client here stays alive and
    answers ICE, so a peer left behind would stay.)"""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from mirp.media.compat import loopback_gathering

    plane = ProcessPlane(PlaneConfig(loopback_only=True))
    await plane.start()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="recvonly")
    try:
        with loopback_gathering():
            await pc.setLocalDescription(await pc.createOffer())
        # both in one write, so the media process reads them in one go
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        plane._pending[999] = reply
        _raw(plane, wire.encode(wire.Offer(999, "p1", 1, pc.localDescription.sdp))
             + wire.encode(wire.ClosePeer("p1")))
        try:  # refused, or answered and closed right after
            answer = await asyncio.wait_for(reply, 20)
        except MirpError:
            pass
        else:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

        async def no_peer() -> Any:
            s = await plane.stats()
            return s.peers == 0 or Seen(s)

        await until(no_peer, "no peer left in the media process")
    finally:
        await pc.close()
        await plane.close()


async def test_a_killed_child_reports_its_peers_gone_and_a_new_one_gets_the_plan(
        plane: ProcessPlane) -> None:
    events: list[MediaEvent] = []
    plane.on_event = events.append
    plan = MixPlan.of({FeedKey("m/floor"): (("p1", 1.0),), FeedKey("m/fr"): ()})
    plane.apply(plan)
    # a peer being set up when the child dies: its offer fails with a typed error...
    plane._generation["p1"] = 7  # as if its offer had been sent (a real one needs a network)
    old = plane.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    # ... and it is reported gone at once, with its generation
    await until(lambda: [e for e in events if isinstance(e, PeerGone)], "peer gone")
    assert [e for e in events if isinstance(e, PeerGone)] == [PeerGone("p1", 7, CRASH_REASON)]
    # (restarts counts once the new child is up: its pid shows a moment before)
    new = await until(lambda: plane.restarts == 1 and plane.pid, "a new media process")
    assert new != old

    async def plan_in_use() -> Any:
        s = await plane.stats()
        return (s.engine.feeds == 2 and s.restarts == 1) or Seen(s)

    await until(plan_in_use, "the current plan given again")
    with pytest.raises(InvalidInput):  # and it answers like the first
        await plane.offer("p2", "v=0")


async def test_the_child_exits_when_the_control_side_goes() -> None:
    plane = ProcessPlane()
    await plane.start()
    pid = plane.pid
    assert pid is not None
    await plane.close()  # the stream ends: the child closes its peers and exits
    assert plane.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_the_child_exits_when_the_control_process_is_killed(tmp_path: Path) -> None:
    """No orphan keeps the UDP ports: kill -9 the control process, its media process goes."""
    pid_file = tmp_path / "media.pid"
    script = (
        "import asyncio, pathlib, sys\n"
        "from mirp.media.process import ProcessPlane\n"
        "async def main():\n"
        "    p = ProcessPlane()\n"
        "    await p.start()\n"
        f"    pathlib.Path({str(pid_file)!r}).write_text(str(p.pid))\n"
        "    await asyncio.sleep(600)\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(  # no pipes: nothing to keep this test waiting
        sys.executable, "-c", script, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        await until(lambda: pid_file.exists() and pid_file.read_text(), "the media process",
                    within=60)
        child = int(pid_file.read_text())
        os.kill(child, 0)  # running
    finally:
        proc.kill()
        await proc.wait()

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"  # exited, unreaped

    try:
        await until(gone, f"media process {child} gone after its parent was killed")
    finally:
        if not gone():
            os.kill(child, signal.SIGKILL)  # the test's own orphan, by its pid


def test_every_message_survives_the_wire() -> None:
    plan = MixPlan.of({FeedKey("m/fr", -12, "p9"): (("p1", 0.5), ("p2", 1.0))},
                      {FeedKey("m/fr", 0, "~b"): FeedKey("m/fr", -12, "p9")}, video={"v": "p1"})
    messages: list[wire.Message] = [
        wire.Offer(1, "p", 3, "v=0"), wire.AddCandidate(2, "p", {"candidate": "x"}),
        wire.AddCandidate(3, "p", None), wire.GetStats(4), wire.ClosePeer("p"),
        wire.Apply.of(plan), wire.Listen("p", wire.key_to_wire(FeedKey("a"))),
        wire.Unlisten("p"), wire.Ready(5, {"fast_path": "on"}), wire.Reply(6, {"a": 1}, None),
        PeerGone("p", 2, "timeout"), Levels({"p": -20.5}),
    ]
    for m in messages:
        assert wire.decode(wire.encode(m)[4:]) == m
    assert wire.Apply.of(plan).plan() == plan and plan.aliases and plan.video  # all of it
    with pytest.raises(wire.BadMessage):
        wire.decode(b'["Offer", [1]]')
