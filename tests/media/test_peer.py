"""Peer sessions with real aiortc peers over loopback: offers, candidates, liveness, admission."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamTrack

from mirp.errors import InvalidInput, InvalidSdp
from mirp.media.peer import Peer, PeerFactory
from mirp.media.sdp import is_loopback_candidate, loopback_only_sdp
from tests.support.audio import RATE, peak_hz
from tests.support.rtc import RtcClient
from tests.support.wait import Seen, until

pytestmark = [pytest.mark.rtc, pytest.mark.timeout(60)]


async def connected_pair(factory: PeerFactory, peer_id: str = "p1",
                         tone_hz: float | None = 440.0) -> tuple[Peer, RtcClient]:
    session = factory.create_peer(peer_id)
    client = RtcClient(tone_hz=tone_hz, name=peer_id)
    await client.connect(session.accept_offer)
    await client.wait_connected()
    await session.wait_connected(10)
    return session, client


async def test_malformed_offers_raise_invalid_sdp() -> None:
    factory = PeerFactory(loopback_only=True)
    client = RtcClient(tone_hz=440)
    good = await client.offer()
    no_opus = "\r\n".join(
        ln.replace(" 96 ", " ") if ln.startswith("m=audio") else ln
        for ln in good.splitlines() if ":96 " not in ln
    ) + "\r\n"
    assert "opus" not in no_opus.lower() and "m=audio" in no_opus
    video = good.replace("m=audio", "m=video")
    twice = good + good[good.index("m=audio"):]
    no_fingerprint = "\r\n".join(ln for ln in good.splitlines()
                                 if not ln.startswith("a=fingerprint")) + "\r\n"
    for bad in ["", "hello", "v=0\r\nbroken", no_opus, video, twice, no_fingerprint,
                "v=0\r\n" + "a=x\r\n" * 20000]:
        session = factory.create_peer("bad")
        with pytest.raises(InvalidSdp):
            await session.accept_offer(bad)
        await session.close()
    # the factory still works after all that
    session = factory.create_peer("good")
    await client.accept_answer(await session.accept_offer(good))
    await client.wait_connected()
    with pytest.raises(InvalidSdp):
        await session.accept_offer(good)  # no renegotiation
    await client.close()
    await session.close()


async def test_offer_connects_and_the_microphone_arrives() -> None:
    factory = PeerFactory(loopback_only=True)
    tracks: list[MediaStreamTrack] = []
    session = factory.create_peer("p1")
    session.on_track = lambda receiver, track: tracks.append(track)
    client = RtcClient(tone_hz=440, name="p1")
    answer_sdp = await client.offer()
    answer = await session.accept_offer(answer_sdp)
    # Opus only, our one candidate on 127.0.0.1, the browser's direction mirrored
    rtpmaps = [ln for ln in answer.splitlines() if ln.startswith("a=rtpmap:")]
    assert len(rtpmaps) == 1 and "opus/48000" in rtpmaps[0].lower(), rtpmaps
    candidates = [ln for ln in answer.splitlines() if ln.startswith("a=candidate:")]
    assert candidates and all(is_loopback_candidate(c) for c in candidates), candidates
    assert "a=sendrecv" in answer
    await client.accept_answer(answer)
    await client.wait_connected()
    await until(lambda: tracks, "on_track")
    assert session.track is tracks[0] and session.receiver is not None
    assert session.sender is not None
    chunks = []
    for _ in range(60):
        frame: Any = await asyncio.wait_for(tracks[0].recv(), 5)
        data = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0]
        chunks.append(data.astype(np.float32) / 32768)
    heard = np.concatenate(chunks)[-RATE // 2:]
    assert abs(peak_hz(heard) - 440) < 15
    await client.close()
    await session.close()


async def test_listen_only_offer_has_no_track() -> None:
    factory = PeerFactory(loopback_only=True)
    tracks: list[Any] = []
    session = factory.create_peer("listener")
    session.on_track = lambda receiver, track: tracks.append(track)
    client = RtcClient(name="listener")
    answer = await session.accept_offer(await client.offer())
    assert "a=sendonly" in answer
    await client.accept_answer(answer)
    await client.wait_connected()
    assert tracks == [] and session.track is None
    await client.close()
    await session.close()


async def test_trickled_candidates_early_late_foreign_and_malformed() -> None:
    factory = PeerFactory(loopback_only=True)
    session = factory.create_peer("p1")
    client = RtcClient(tone_hz=440)
    offer = await client.offer()
    stripped = "\r\n".join(ln for ln in offer.splitlines()
                           if not ln.startswith("a=candidate:")
                           and not ln.startswith("a=end-of-candidates")) + "\r\n"
    (mine,) = client.local_candidates()
    for bad in [{"candidate": "candidate:garbage"}, {"candidate": 5}, "candidate:1 1 udp x",
                {"candidate": mine["candidate"], "sdpMLineIndex": "zero"}]:
        with pytest.raises(InvalidInput):
            await session.add_remote_candidate(bad)  # type: ignore[arg-type]
    # before the offer: buffered; foreign and mDNS ones: dropped in loopback-only mode
    await session.add_remote_candidate(
        {"candidate": "candidate:1 1 udp 2122260223 192.0.2.7 50000 typ host",
         "sdpMid": "0", "sdpMLineIndex": 0})
    await session.add_remote_candidate(
        {"candidate": "candidate:2 1 udp 2122260223 4f1c.local 50001 typ host",
         "sdpMid": "0", "sdpMLineIndex": 0})
    await session.add_remote_candidate(mine)
    await client.accept_answer(await session.accept_offer(stripped))
    await session.add_remote_candidate(None)
    await client.wait_connected()
    remote = session.pc.getTransceivers()[0].receiver.transport.transport.getRemoteCandidates()
    assert {c.ip for c in remote} == {"127.0.0.1"}
    await client.close()
    await session.close()


def test_loopback_only_sdp_keeps_only_loopback_udp() -> None:
    sdp = ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
           "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n"
           "a=candidate:2 1 udp 1 10.0.0.2 5000 typ host\r\n"
           "a=candidate:3 1 udp 1 abcd.local 5000 typ host\r\n"
           "a=candidate:4 1 tcp 1 127.0.0.1 9 typ host tcptype active\r\n")
    out = loopback_only_sdp(sdp)
    assert "127.0.0.1 5000" in out and "10.0.0.2" not in out and ".local" not in out
    assert "tcp" not in out


async def test_vanished_peer_is_gone_within_the_timeout() -> None:
    factory = PeerFactory(loopback_only=True, peer_timeout_s=1.0)
    session, client = await connected_pair(factory)
    reasons: list[str] = []
    session.on_gone = reasons.append
    # 2.5 s of the client's RTP (more than the 1 s timeout) reach the server: it stays
    await until(lambda: session.liveness.stats.media >= 125 or Seen(session.liveness.stats),
                "2.5 s of the client's RTP")
    assert reasons == []  # alive for longer than the timeout: its RTP keeps the watchdog quiet
    client.vanish()
    await until(lambda: reasons, "on_gone after the client vanished", within=10)
    assert reasons == ["timeout"]
    await until(lambda: session.closed, "session closed")
    assert "p1" not in factory.peers
    await client.close()


async def test_client_hangup_and_idempotent_close() -> None:
    factory = PeerFactory(loopback_only=True)
    session, client = await connected_pair(factory)
    reasons: list[str] = []
    session.on_gone = reasons.append
    await client.close()
    await until(lambda: reasons, "on_gone after the client closed")
    assert reasons == ["closed"]
    await session.close()
    await session.close()
    # the owner's own close does not report on_gone
    session2, client2 = await connected_pair(factory, "p2")
    reasons2: list[str] = []
    session2.on_gone = reasons2.append
    await asyncio.gather(session2.close(), session2.close())
    assert session2.closed and reasons2 == []
    await factory.close()
    await client2.close()


async def test_admission_in_bounded_batches() -> None:
    factory = PeerFactory(loopback_only=True, join_batch=2)
    clients = [RtcClient(name=f"c{i}") for i in range(3)]
    sessions = [factory.create_peer(f"c{i}") for i in range(3)]
    offers = [await c.offer() for c in clients]
    answers = [await sessions[i].accept_offer(offers[i]) for i in range(2)]
    third = asyncio.ensure_future(sessions[2].accept_offer(offers[2]))
    await until(lambda: sessions[2].watch.admission_state == "queued", "the third one queued")
    assert not third.done() and factory.admission.in_use == 2, "a third handshake started"
    await clients[0].accept_answer(answers[0])
    await clients[0].wait_connected()
    await clients[2].accept_answer(await asyncio.wait_for(third, 10))
    await clients[2].wait_connected()
    await clients[1].accept_answer(answers[1])
    await clients[1].wait_connected()
    for c in clients:
        await c.close()
    await factory.close()
    assert factory.peers == {}


async def test_a_handshake_that_never_completes_frees_its_slot() -> None:
    factory = PeerFactory(loopback_only=True, join_batch=1, handshake_timeout_s=1.0)
    silent, ok = RtcClient(name="silent"), RtcClient(name="ok")
    first = factory.create_peer("silent")
    reasons: list[str] = []
    first.on_gone = reasons.append
    await first.accept_offer(await silent.offer())  # the answer never reaches the client
    second = factory.create_peer("ok")
    answer = await asyncio.wait_for(second.accept_offer(await ok.offer()), 15)
    assert reasons == ["handshake timeout"] and first.closed
    await ok.accept_answer(answer)
    await ok.wait_connected()
    await silent.close()
    await ok.close()
    await factory.close()
