"""Signaling + Room + MediaEngine + Peers end to end: real aiortc clients, each with its own tone,
over WebSocket and loopback WebRTC; FFT on what each one hears.

Tones: delegate1 440 Hz (floor), delegate2 550 (never given the floor), interpreter_fr1 660,
interpreter_fr2 880, interpreter_ar1 770, interpreter_zh1 990. Levels are the peak of a -12 dBFS
sine after Opus: "heard" is above -30 dB, "not heard" below -45 dB.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import numpy as np

from tests.integration.conftest import Attendee, Harness
from tests.support.audio import level_db_at, peak_hz
from tests.support.factory import join_token
from tests.support.wait import Seen, until

HEARD, SILENT = -30.0, -45.0


async def listen(a: Attendee, seconds: float = 0.5) -> np.ndarray:
    assert a.rtc is not None
    await a.rtc.wait_recorded(seconds, within_s=20.0)
    return a.rtc.recorded(seconds)


async def hears(
    a: Attendee,
    present: list[float],
    absent: list[float] = (),  # type: ignore
    within: float = 20.0,
    heard: float = HEARD,
) -> dict[float, float]:
    """Poll until `a` hears every frequency in `present` (above `heard` dB) and none in
    `absent`."""

    async def levels_now() -> dict[float, float] | Seen:
        x = await listen(a)
        levels = {hz: level_db_at(x, hz) for hz in [*present, *absent]}
        ok = all(levels[hz] > heard for hz in present) and all(levels[hz] < SILENT for hz in absent)
        if ok and (not present or abs(peak_hz(x) - max(present, key=levels.get)) < 15):
            return levels
        return Seen(f"levels { {k: round(v, 1) for k, v in levels.items()} }, "
                    f"peak {peak_hz(x):.0f} Hz")

    levels: dict[float, float] = await until(
        levels_now, f"{a.key}: want {present} without {absent}", within, step=0.1, tolerate=())
    return levels


def pid(h: Harness, key: str) -> str:
    return h.meeting.people[key].participant_id


async def test_floor_interpretation_floor_under_mix_minus_and_refused_publishing(
    harness: Harness,
) -> None:
    h = harness
    chair = await h.attend("chair")  # recvonly: the chair listens
    d1 = await h.attend("delegate1", 440)
    d2 = await h.attend("delegate2", 550)  # publishes, never given the floor
    fr1 = await h.attend("interpreter_fr1", 660)
    obs = await h.attend("observer")
    lfr = await h.attend("delegate3")
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    # the floor listener hears the floor holder, not the delegate without the floor
    await hears(obs, [440], [550, 660])
    # the floor holder does not hear themselves (mix-minus)
    await hears(d1, [], [440, 550])
    # French: auto-floor while nobody is on air, then the interpreter replaces the floor
    await lfr.ws.ok("subscribe", channel="fr", floor_under=None)
    await hears(lfr, [440], [660])
    await fr1.ws.ok("on_air", on=True)
    await hears(lfr, [660], [440, 550])
    await hears(obs, [440], [660])  # the floor stays the floor
    # the floor underneath the interpretation, at the chosen level (±3 dB)
    await lfr.ws.ok("subscribe", channel="fr", floor_under=-18)
    levels = await hears(lfr, [660, 440], [550], heard=-45)
    assert abs((levels[660] - levels[440]) - 18) <= 3, levels
    # the interpreter hears the floor, never their own voice; their own channel as a source
    # would be a relay loop, refused
    await hears(fr1, [440], [660])
    loop = await fr1.ws.request("subscribe", channel="fr", floor_under=None)
    assert loop["type"] == "error" and loop["code"] == "conflict"
    await hears(fr1, [440], [660])
    # cough: the interpreter leaves the French channel while held
    await lfr.ws.ok("subscribe", channel="fr", floor_under=None)
    await fr1.ws.ok("cough", on=True)
    await hears(lfr, [], [660])
    await fr1.ws.ok("cough", on=False)
    await hears(lfr, [660], [440])
    # the chair sees the floor in its state too
    assert pid(h, "delegate1") in chair.ws.last("floor")["holders"]  # type: ignore[index]
    assert d2.rtc is not None and d2.rtc.pc.connectionState == "connected"


async def test_relay_retour_handover_and_auto_relay(harness: Harness) -> None:
    h = harness
    chair = await h.attend("chair", media=False)
    await h.attend("delegate1", 440)
    fr1 = await h.attend("interpreter_fr1", 660)
    fr2 = await h.attend("interpreter_fr2", 880)
    zh1 = await h.attend("interpreter_zh1", 990)
    ar1 = await h.attend("interpreter_ar1", 770)
    lfr = await h.attend("delegate2")
    len_ = await h.attend("delegate3")
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    await chair.ws.ok("floor_language", language="en")
    await fr1.ws.ok("on_air", on=True)
    await lfr.ws.ok("subscribe", channel="fr", floor_under=None)
    await hears(lfr, [660], [440])
    # auto-relay: the Chinese booth does not understand English: it hears the French booth
    await hears(zh1, [660], [440])
    relayed = await until(lambda: zh1.ws.last("subscribed"), "zh1 subscribed")
    assert relayed["channel"] == "fr" and relayed["auto"] is True
    # the floor turns French: the Chinese booth takes the floor directly
    await chair.ws.ok("floor_language", language="fr")
    await hears(zh1, [440], [660])
    await chair.ws.ok("floor_language", language="en")
    await hears(zh1, [660], [440])
    # a manual relay choice, then back to auto
    await zh1.ws.ok("subscribe", channel="floor")
    await hears(zh1, [440], [660])
    # handover: the French microphone moves from fr1 (660) to fr2 (880)
    await fr1.ws.ok("handover_request", to=pid(h, "interpreter_fr2"))
    await until(lambda: (fr2.ws.last("booth") or {}).get("handover"), "handover offered")
    await fr2.ws.ok("handover_accept")
    await hears(lfr, [880], [660, 440])
    # retour: with a French floor, the Arabic booth (which understands French) works into
    # English
    await chair.ws.ok("floor_language", language="fr")
    await ar1.ws.ok("console_output", channel="en")
    await ar1.ws.ok("on_air", on=True)
    await len_.ws.ok("subscribe", channel="en", floor_under=None)
    await hears(len_, [770], [440, 880])
    await hears(lfr, [880], [770])  # the French channel is still fr2's


async def test_switching_channel_keeps_the_rtp_clock(harness: Harness) -> None:
    h = harness
    chair = await h.attend("chair", media=False)
    await h.attend("delegate1", 440)
    fr1 = await h.attend("interpreter_fr1", 660)
    obs = await h.attend("observer")
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    await fr1.ws.ok("on_air", on=True)
    await hears(obs, [440], [660])
    assert obs.rtc is not None
    switched_at = time.monotonic()
    await obs.ws.ok("subscribe", channel="fr", floor_under=None)
    await hears(obs, [660], [440])
    await obs.ws.ok("subscribe", channel="floor", floor_under=None)
    await hears(obs, [440], [660])
    seen = list(obs.rtc.rtp)  # the last 12 s of RTP headers: both switches are in it
    assert seen[0].arrival < switched_at < seen[-1].arrival
    assert len({p.ssrc for p in seen}) == 1  # one stream, no renegotiation
    for a, b in itertools.pairwise(seen):
        dseq = (b.sequence_number - a.sequence_number) % 65536
        dts = (b.timestamp - a.timestamp) % 2**32
        # one clock for every channel: timestamps advance in whole 20 ms frames, by the packets
        # sent plus any ticks the engine skipped under load, never by a jump to another clock
        assert dseq >= 1 and dts % 960 == 0 and 960 * dseq <= dts <= 960 * (dseq + 10), (a, b)


async def test_encoders_equal_distinct_feeds_with_1_10_50_listeners(harness: Harness) -> None:
    h = harness
    chair = await h.attend("chair", media=False)
    await h.attend("delegate1", 440)
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    extra = [await join_token(h.app, h.meeting, "observer", key=f"listener{i}") for i in range(49)]
    ear = await h.attend("observer")  # one listener that decodes: it hears the floor
    light: list[Any] = []

    async def check(n: int) -> Any:
        s = await h.stats()
        # delegate1 hears floor-minus-delegate1; every listener hears the floor: 2 feeds
        return (s.listeners == n + 1 and s.feeds_in_use == 2 and s.encoders == 2) or Seen(s)

    await until(lambda: check(1), "1 listener: 2 encoders")
    light += await asyncio.gather(*(h.attend_light(p.key, p.token) for p in extra[:9]))
    await until(lambda: check(10), "10 listeners: still 2 encoders")
    for i in range(9, 49, 10):
        light += await asyncio.gather(*(h.attend_light(p.key, p.token) for p in extra[i : i + 10]))
    await until(lambda: check(50), "50 listeners: still 2 encoders", within=30)
    # and every one of them receives packets
    await until(
        lambda: all(x.packets > 0 for x in light) or [x.name for x in light if not x.packets],
        "packets at every listener",
        within=20,
    )
    await hears(ear, [440])


async def test_vanished_peer_is_released_and_reconnect_keeps_the_floor(harness: Harness) -> None:
    h = harness
    chair = await h.attend("chair", media=False)
    obs = await h.attend("observer")
    base = await h.media.stats()
    d1 = await h.attend("delegate1", 440)
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    await hears(obs, [440])

    async def sources() -> Any:
        s = await h.stats()
        return s.sources == base.engine.sources + 1 or Seen(s)

    async def baseline() -> Any:
        s = await h.media.stats()
        now = (s.engine.sources, s.engine.listeners, s.peers)
        return now == (base.engine.sources, base.engine.listeners, base.peers) or Seen(now)

    await until(sources, "d1's source")
    # the client vanishes: no BYE, no WebSocket close (its socket is simply dropped)
    assert d1.rtc is not None
    d1.rtc.vanish()
    d1.ws.ws.transport.abort()
    await until(baseline, "resources back to baseline (peer session closed too)", within=30)
    # within the grace period it comes back (a new Session, a new peer): the floor is kept
    d1b = await h.attend("delegate1", 440)
    assert d1b.ws.welcome["room"]["floor"]["holders"] == [pid(h, "delegate1")]  # type: ignore
    await hears(obs, [440])


async def test_peer_vanishing_under_a_live_session_is_released(tmp_path: Any) -> None:
    """The media goes (no RTCP, no STUN) while the WebSocket stays: the peer watchdog reports
    it gone, the runtime releases source and listener and sends `peer_closed`. A client that
    makes a new offer goes on in the same Session; one that does not is closed with 1001 (it
    would reconnect), and its resources are back to the baseline."""
    from tests.integration.conftest import Harness as H
    from tests.support.factory import make_meeting, served_app
    from tests.support.rtc import RtcClient

    async with served_app(tmp_path, limits={"peer_timeout_s": 3.0, "heartbeat_s": 30.0}) as s:
        h = H(s, await make_meeting(s.app, delegates=1, interpreters={}, observer=True))
        try:
            chair = await h.attend("chair", media=False)
            d1 = await h.attend("delegate1", 440)
            await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
            base = await h.stats()
            obs = await h.attend("observer")
            await hears(obs, [440])
            # the speaker's media vanishes; it makes a new peer connection on the same Session
            assert d1.rtc is not None
            d1.rtc.vanish()
            await until(lambda: d1.ws.events("peer_closed"), "peer_closed", within=30)
            await d1.rtc.close()
            d1.rtc = RtcClient(440, name="delegate1-again")

            async def signal(sdp: str) -> str:
                reply = await d1.ws.request("offer", sdp=sdp)
                assert reply.get("type") == "answer", reply
                return str(reply["sdp"])

            await d1.rtc.connect(signal)
            await hears(obs, [440])
            assert d1.ws.closed is None
            # the listener's media vanishes and it makes no new offer: closed, released
            assert obs.rtc is not None
            obs.rtc.vanish()
            closed = await obs.ws.wait_closed(within=30)
            assert closed[0] == 1001, closed
            assert obs.ws.events("peer_closed"), obs.ws.messages[-5:]

            async def baseline() -> Any:
                s = await h.stats()
                now = (s.sources, s.listeners)
                return now == (base.sources, base.listeners) or Seen(now)

            await until(baseline, "resources back to baseline", within=15)
        finally:
            await h.close()


async def test_two_meetings_share_the_engine_without_crosstalk(harness: Harness) -> None:
    """One MediaEngine serves every room: each room's feeds are its own (keys namespaced by
    meeting), so the floor of one meeting never reaches the other."""
    from tests.integration.conftest import Harness as H
    from tests.support.factory import make_meeting

    a = harness
    b = H(a.served, await make_meeting(a.app, delegates=1, interpreters={}, observer=True))
    try:
        chair_a = await a.attend("chair", media=False)
        chair_b = await b.attend("chair", media=False)
        await a.attend("delegate1", 440)
        await b.attend("delegate1", 550)
        obs_a = await a.attend("observer")
        obs_b = await b.attend("observer")
        await chair_a.ws.ok("floor_give", participant_id=pid(a, "delegate1"))
        await chair_b.ws.ok("floor_give", participant_id=pid(b, "delegate1"))
        await hears(obs_a, [440], [550])
        await hears(obs_b, [550], [440])
        keys = {str(k) for k in a.media.plan.feeds}
        assert any(k.startswith(a.meeting.meeting_id + "/") for k in keys), keys
        assert any(k.startswith(b.meeting.meeting_id + "/") for k in keys), keys
        # one meeting's floor ends: the other's goes on
        await chair_a.ws.ok("floor_take", participant_id=pid(a, "delegate1"))
        await hears(obs_a, [], [440, 550])
        await hears(obs_b, [550], [440])
    finally:
        await b.close()
