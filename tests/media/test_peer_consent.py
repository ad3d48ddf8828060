"""ICE consent freshness (RFC 7675) with real aiortc peers over loopback: a listener whose answers
come late stays, one that stops answering goes, a frozen server drops nobody.

Most tests scale the consent settings down (interval 0.5 s, lapse 3 s: 10x faster than the real
5 s / 30 s), so 30 s of test stand for 5 minutes of a meeting. One test runs the real settings
for 45 s (`slow` marker)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aioice.stun
import pytest

from mirp.media.peer import Peer, PeerFactory
from tests.support.rtc import RtcClient
from tests.support.wait import until

pytestmark = [pytest.mark.rtc, pytest.mark.timeout(120)]


def client_connection(client: RtcClient) -> Any:
    return client.transceiver.receiver.transport.transport._connection


def delay_stun_responses(client: RtcClient, delay_s: float | None) -> None:
    """The client's STUN Binding responses leave `delay_s` late (None: never): a long path, in
    the direction of the answers only. Its requests and media are untouched."""
    loop = asyncio.get_running_loop()
    for protocol in client_connection(client)._protocols:
        original = protocol.send_stun

        def send_stun(message: aioice.stun.Message, addr: tuple[str, int],
                      _orig: Any = original) -> None:
            if message.message_class != aioice.stun.Class.RESPONSE:
                _orig(message, addr)
            elif delay_s is not None:
                loop.call_later(delay_s, _orig, message, addr)

        protocol.send_stun = send_stun


def mute_rtcp(client: RtcClient) -> None:
    """A listen-only client sends nothing but RTCP (once it hears RTP); mute it, so only STUN
    speaks for it."""
    dtls = client.transceiver.receiver.transport

    async def dropped(data: bytes) -> None:
        return None

    dtls._send_rtp = dropped  # type: ignore[method-assign]


async def listener(factory: PeerFactory, name: str, delay_s: float = 0.0,
                   tone_hz: float | None = None) -> tuple[Peer, RtcClient, list[str]]:
    session = factory.create_peer(name)
    reasons: list[str] = []
    session.on_gone = reasons.append
    client = RtcClient(tone_hz=tone_hz, name=name)  # default recvonly, a listener's browser
    offer = await client.offer()
    if delay_s:
        delay_stun_responses(client, delay_s)
    await client.accept_answer(await session.accept_offer(offer))
    await client.wait_connected()
    await session.wait_connected(10)
    return session, client, reasons


async def stays_connected(session: Peer, client: RtcClient, reasons: list[str],
                          for_s: float) -> None:
    """Poll for `for_s`: fail at once, with the reason, if either side drops."""
    end = time.monotonic() + for_s
    while time.monotonic() < end:
        assert reasons == [] and not session.closed, f"server dropped the peer: {reasons}"
        assert client.pc.connectionState == "connected", client.pc.connectionState
        await asyncio.sleep(0.1)


def scaled(**kw: Any) -> PeerFactory:
    return PeerFactory(loopback_only=True, consent_interval_s=0.5, consent_lapse_s=3.0,
                       peer_timeout_s=60.0, **kw)


async def test_late_answers_keep_consent_for_five_scaled_minutes() -> None:
    """Answers 0.35 s late at a 0.5 s interval (0.7 s at 5 s, scaled): every check's own short
    timer would have expired, yet the answers count. RTCP is muted and the client's own checks
    come every ~5 s (longer than the lapse), so only the late answers can keep it connected."""
    factory = scaled()
    session, client, reasons = await listener(factory, "late", delay_s=0.35)
    mute_rtcp(client)
    await stays_connected(session, client, reasons, for_s=0.5)  # what was already on its way
    media_before = session.liveness.stats.media
    await stays_connected(session, client, reasons, for_s=30.0)  # 60 intervals = 5 real minutes
    stats = session.liveness.stats
    assert stats.responses >= 40 and stats.slowest_response_s >= 0.35, stats
    assert stats.media == media_before, stats  # muted: no SRTCP spoke for it
    await client.close()
    await factory.close()


async def test_a_peer_that_stops_answering_is_gone_after_the_lapse() -> None:
    factory = scaled()
    session, client, reasons = await listener(factory, "quiet")
    await stays_connected(session, client, reasons, for_s=4.0)  # longer than the lapse
    assert session.liveness.stats.responses > 0
    client.vanish()  # no answers, no RTCP, no checks; the watchdog (60 s) stays out of it
    await until(lambda: reasons, "on_gone after the peer stopped answering", within=20)
    assert reasons == ["consent expired"]
    await until(lambda: session.closed, "session closed", within=10)
    assert "quiet" not in factory.peers
    await client.close()


async def test_authenticated_media_keeps_consent_without_answers() -> None:
    """Answers lost on the way back, but the peer's SRTP/SRTCP decrypts: it is there and
    consents (a speaker here: a listen-only aiortc peer sends no RTCP until it hears RTP)."""
    factory = scaled()
    session, client, reasons = await listener(factory, "media-only", tone_hz=440.0)
    delay_stun_responses(client, None)  # from now on, no answer ever comes back
    answered = session.liveness.stats.responses
    await stays_connected(session, client, reasons, for_s=9.0)  # three lapses
    stats = session.liveness.stats
    assert stats.media > 0 and stats.responses == answered, stats
    await client.close()
    await factory.close()


async def test_a_frozen_server_loop_drops_nobody() -> None:
    """The whole loop blocked for longer than the lapse (a CPU-starved server): the answers wait
    in the socket; the freeze is not the peer's silence."""
    factory = scaled()
    session, client, reasons = await listener(factory, "frozen", delay_s=0.2)
    mute_rtcp(client)
    await stays_connected(session, client, reasons, for_s=2.0)
    time.sleep(4.5)  # noqa: ASYNC251 - the point: nothing on this loop runs meanwhile
    await stays_connected(session, client, reasons, for_s=5.0)
    stats = session.liveness.stats
    assert stats.frozen_s > 0, stats
    await client.close()
    await factory.close()


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_slow_real_settings_answers_700ms_late_stay_past_40s() -> None:
    """SLOW (45 s): the finding as reported, at the real 5 s / 30 s settings and the default
    watchdog: a listener whose answers come 0.7 s late. aioice's own check dropped it after
    32-36 s (see docs/operations.md)."""
    factory = PeerFactory(loopback_only=True)
    session, client, reasons = await listener(factory, "satellite", delay_s=0.7)
    await stays_connected(session, client, reasons, for_s=45.0)
    assert (factory.consent_interval_s, factory.consent_lapse_s) == (5.0, 30.0)
    stats = session.liveness.stats
    assert stats.responses >= 5 and stats.slowest_response_s >= 0.7, stats
    await client.close()
    await factory.close()


async def test_forged_or_misdirected_answers_give_no_consent() -> None:
    """Consent protects third parties from being flooded: only an answer signed with the peer's
    password, from the address we checked, counts."""
    factory = scaled()
    session, client, _reasons = await listener(factory, "forged", delay_s=0.4)
    liveness = session.liveness
    await until(lambda: liveness._outstanding, "an outstanding check", within=5)
    # from here to the end, no await: the client's real (late) answer cannot interfere
    check = next(iter(liveness._outstanding.values()))
    answered = liveness.stats.responses

    def answer(key: bytes, cls: aioice.stun.Class = aioice.stun.Class.RESPONSE
               ) -> aioice.stun.Message:
        message = aioice.stun.Message(message_method=aioice.stun.Method.BINDING,
                                      message_class=cls, transaction_id=check.tid)
        message.add_message_integrity(key)
        return message

    check.response_received(answer(b"not the password"), check.addr)
    check.response_received(answer(check.key), ("127.0.0.1", check.addr[1] + 1))
    check.response_received(answer(check.key, aioice.stun.Class.ERROR), check.addr)
    assert liveness.stats.responses == answered and check.tid in liveness._outstanding
    check.response_received(answer(check.key), check.addr)
    assert liveness.stats.responses == answered + 1 and check.tid not in liveness._outstanding
    await client.close()
    await factory.close()
