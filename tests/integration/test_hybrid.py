"""Hybrid meetings end to end: the meeting room published by WHIP (RFC 9725), channels pulled by
WHEP, with the clients of tests/support/whip.py (written to the specifications, on aiortc), the
real app served by uvicorn, FFT on what everyone hears.

Tones: the room 660 Hz, delegate1 (remote speaker) 440, interpreter_fr1 770, interpreter_ar1
990. "Heard" is above -30 dB, "not heard" below -45 dB; the room's own tone in what the room
hears must be 40 dB or more under the remote speaker's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.conftest import Attendee, Harness
from tests.integration.test_media_e2e import hears, pid
from tests.support.audio import level_db_at
from tests.support.factory import Person, join_token
from tests.support.rtc import RtcClient
from tests.support.wait import Seen, until
from tests.support.whip import SDP, SDPFRAG, HttpMediaSession, sdpfrag

ROOM, REMOTE, FRENCH, ARABIC = 660.0, 440.0, 770.0, 990.0


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


async def room_person(h: Harness) -> Person:
    return await join_token(h.app, h.meeting, "room", name="Plenary hall", key="room")


async def publish(h: Harness, http: httpx.AsyncClient, person: Person, tone: float,
                  trickle: bool = True) -> HttpMediaSession:
    rtc = RtcClient(tone, name=person.key)
    session = await HttpMediaSession.start(
        http, f"{h.served.base_url}/whip/{h.meeting.meeting_id}", person.token, rtc,
        trickle=trickle)
    await rtc.wait_connected(within_s=20.0)
    return session


async def own_tone_down(rtc: RtcClient, own: float, other: float) -> None:
    """The room hears `other` and its own tone 40 dB or more under it."""

    async def check() -> bool | Seen:
        await rtc.wait_recorded(0.5, within_s=20.0)
        x = rtc.recorded(0.5)
        mine, theirs = level_db_at(x, own), level_db_at(x, other)
        return (theirs > -30 and theirs - mine >= 40) or Seen(
            f"own {mine:.1f} dB, remote {theirs:.1f} dB")

    await until(check, "the room hears the remote speaker, not itself", 20, step=0.1,
                tolerate=())


async def test_the_room_by_whip_is_the_floor_and_hears_the_floor_minus_itself(
    harness: Harness, http: httpx.AsyncClient,
) -> None:
    h = harness
    chair = await h.attend("chair")
    d1 = await h.attend("delegate1", REMOTE)
    listeners: dict[str, Attendee] = {
        "fr": await h.attend("delegate2"),
        "zh": await h.attend("delegate3"),
        "ar": await h.attend("observer"),
    }
    for channel, a in listeners.items():
        await a.ws.ok("subscribe", channel=channel, floor_under=None)
    room = await publish(h, http, await room_person(h), ROOM)
    # the room is the floor, and every auto-floor channel carries it while no booth is on air
    await hears(chair, [ROOM], [REMOTE])
    for a in listeners.values():
        await hears(a, [ROOM], [REMOTE])
    # a remote speaker takes the floor (the floor is `both` by default): the room hears them,
    # never itself
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    await hears(chair, [ROOM, REMOTE])
    await own_tone_down(room.rtc, ROOM, REMOTE)
    await hears(d1, [ROOM], [REMOTE])  # the remote speaker hears the room, not themselves
    # a booth on air takes its channel; the others still carry the floor
    fr1 = await h.attend("interpreter_fr1", FRENCH)
    await fr1.ws.ok("on_air", on=True)
    await hears(listeners["fr"], [FRENCH], [ROOM, REMOTE])
    await hears(listeners["ar"], [ROOM, REMOTE], [FRENCH])
    # the chair puts the floor with the remote speaker only, then in the room only
    await chair.ws.ok("floor_room", mode="remote")
    await hears(chair, [REMOTE], [ROOM])
    await chair.ws.ok("floor_room", mode="room")
    await hears(chair, [ROOM], [REMOTE])
    # DELETE ends the ingest: the room leaves the meeting, the floor falls silent
    assert (await room.delete()).status_code == 200
    live = h.rooms.get(h.meeting.meeting_id).room
    await until(lambda: pid(h, "room") not in live.participants or Seen("still there"),
                "the room left", 20, tolerate=())
    await hears(chair, [], [ROOM, REMOTE])
    await room.rtc.close()


async def test_whep_listeners_hear_their_channel(harness: Harness,
                                                 http: httpx.AsyncClient) -> None:
    h = harness
    chair = await h.attend("chair", media=False)
    await h.attend("delegate1", REMOTE)
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    fr1 = await h.attend("interpreter_fr1", FRENCH)
    await fr1.ws.ok("on_air", on=True)
    room = await publish(h, http, await room_person(h), ROOM, trickle=False)
    base, mid = h.served.base_url, h.meeting.meeting_id

    async def player(channel: str) -> HttpMediaSession:
        person = await join_token(h.app, h.meeting, "observer", key=f"whep-{channel}")
        rtc = RtcClient(name=f"whep-{channel}")
        session = await HttpMediaSession.start(http, f"{base}/whep/{mid}/{channel}",
                                               person.token, rtc, trickle=True)
        await rtc.wait_connected(within_s=20.0)
        return session

    french = await player("fr")
    floor = await player("floor")
    second_site = await player("floor-minus-room")
    ears = {s.rtc.name: Attendee(s.rtc.name, chair.ws, s.rtc)
            for s in (french, floor, second_site)}
    await hears(ears["whep-fr"], [FRENCH], [REMOTE, ROOM])
    await hears(ears["whep-floor"], [REMOTE, ROOM], [FRENCH])
    await hears(ears["whep-floor-minus-room"], [REMOTE], [ROOM, FRENCH])
    # encoded once: the second site listens on the very Feed the room hears
    live = h.rooms.get(mid).room
    assert live.feed_for(pid(h, "whep-floor-minus-room")) == live.feed_for(pid(h, "room"))
    for s in (french, floor, second_site, room):
        assert (await s.delete()).status_code == 200
        await s.rtc.close()


def _error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    assert r.headers.get("access-control-allow-origin") == "*"


async def test_bad_whip_and_whep_requests_get_the_documented_errors(
    harness: Harness, http: httpx.AsyncClient,
) -> None:
    h = harness
    base, mid = h.served.base_url, h.meeting.meeting_id
    whip = f"{base}/whip/{mid}"
    person = await room_person(h)
    probe = RtcClient(ROOM, name="probe")
    offer = await probe.offer()
    post = HttpMediaSession.post
    _error(await post(http, whip, None, offer), 401, "unauthorized")
    _error(await post(http, whip, "not-a-token", offer), 401, "unauthorized")
    _error(await post(http, whip, h.meeting.tokens["delegate1"], offer), 403, "forbidden")
    _error(await post(http, whip, person.token, offer, "text/plain"), 415,
           "unsupported_media_type")
    _error(await post(http, whip, person.token, "hello"), 400, "invalid_sdp")
    video = offer.replace("m=audio", "m=video")
    _error(await post(http, whip, person.token, video), 400, "invalid_sdp")
    _error(await post(http, f"{base}/whip/m_nope", person.token, offer), 403, "forbidden")
    # the CORS preflight
    pre = await http.options(whip, headers={"Origin": "https://encoder.example",
                                            "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "Authorization" in pre.headers["access-control-allow-headers"]
    assert pre.headers["accept-post"] == SDP
    # a real resource, then what may not be done to it
    room = await publish(h, http, person, ROOM, trickle=False)
    assert room.resource.startswith(whip + "/")
    _error(await room.patch("a=end-of-candidates\r\n", content_type="text/plain"), 415,
           "unsupported_media_type")
    restart = sdpfrag(offer.replace("a=ice-ufrag:", "a=ice-ufrag:x"), [])
    _error(await room.patch(restart), 501, "not_supported")
    stale = await http.patch(room.resource, content="a=end-of-candidates\r\n", headers={
        "Content-Type": SDPFRAG, "If-Match": '"elsewhere"',
        "Authorization": f"Bearer {person.token}"})
    _error(stale, 412, "precondition_failed")
    _error(await room.delete(h.meeting.tokens["delegate1"]), 403, "forbidden")
    _error(await http.delete(room.resource + "x",
                             headers={"Authorization": f"Bearer {person.token}"}),
           404, "not_found")
    _error(await room.delete("forged"), 401, "unauthorized")
    # WHEP: a role that is not listen-only, a channel the meeting does not have
    whep = f"{base}/whep/{mid}"
    probe_listener = RtcClient(name="probe-listener")
    listen_offer = await probe_listener.offer()
    _error(await post(http, f"{whep}/fr", person.token, listen_offer), 403, "forbidden")
    _error(await post(http, f"{whep}/xx", h.meeting.tokens["observer"], listen_offer), 404,
           "not_found")
    _error(await post(http, f"{whep}/fr", h.meeting.tokens["observer"], listen_offer,
                      "application/json"), 415, "unsupported_media_type")
    # the room is still there, and DELETE by its owner ends it
    assert (await room.delete()).status_code == 200
    _error(await room.delete(), 404, "not_found")
    for rtc in (room.rtc, probe, probe_listener):
        await rtc.close()


async def _invitation_token(h: Harness, role: str, max_uses: int | None = 1) -> str:
    from mirp.store import invites, repo
    from mirp.store.schemas import InvitationIn

    db, settings = h.app.state.db, h.app.state.settings
    async with db.session() as session:
        meeting = await repo.load_meeting(session, h.meeting.meeting_id)
        inv = await invites.add_invitation(session, settings, meeting, InvitationIn(
            role=role, name="Plenary hall", max_uses=max_uses))  # type: ignore[arg-type]
        return invites.invitation_token(settings, inv)


async def test_an_encoder_publishes_with_the_room_invitation_s_own_token_again_and_again(
    harness: Harness, http: httpx.AsyncClient,
) -> None:
    """An encoder is set up once with the invitation's token: each POST (a restart) is the same
    room participant (a one-use invitation is not used up by the second), the newer resource
    replaces the older, and the invitation's token may end it."""
    h = harness
    whip = f"{h.served.base_url}/whip/{h.meeting.meeting_id}"
    token = await _invitation_token(h, "room")
    chair = await h.attend("chair")
    first = await HttpMediaSession.start(http, whip, token, RtcClient(ROOM, name="enc1"))
    await first.rtc.wait_connected(within_s=20.0)
    await hears(chair, [ROOM])
    live = h.rooms.get(h.meeting.meeting_id).room
    rooms = [p.id for p in live.participants.values() if str(p.role) == "room"]
    assert len(rooms) == 1
    second = await HttpMediaSession.start(http, whip, token, RtcClient(ROOM, name="enc2"))
    await second.rtc.wait_connected(within_s=20.0)
    assert [p.id for p in live.participants.values() if str(p.role) == "room"] == rooms
    await until(lambda: first.resource != second.resource and
                (h.app.state.http_media.by_id.get(first.resource.rsplit("/", 1)[1]) is None
                 or Seen("the first resource still open")), "the first resource replaced", 20,
                tolerate=())
    _error(await first.delete(), 404, "not_found")
    await hears(chair, [ROOM])  # the second encoder is the room now
    probe = RtcClient(ROOM, name="probe")
    _error(await HttpMediaSession.post(http, whip, await _invitation_token(h, "delegate"),
                                       await probe.offer()), 403, "forbidden")
    assert (await second.delete()).status_code == 200
    await hears(chair, [], [ROOM])
    for rtc in (first.rtc, second.rtc, probe):
        await rtc.close()


async def test_whep_players_share_one_observer_invitation_s_token(
    harness: Harness, http: httpx.AsyncClient,
) -> None:
    """The venue's interpretation receivers: one open observer invitation, a player per
    language; each POST is a listener of its own (they never replace each other)."""
    h = harness
    chair = await h.attend("chair", media=False)
    await h.attend("delegate1", REMOTE)
    await chair.ws.ok("floor_give", participant_id=pid(h, "delegate1"))
    ar1 = await h.attend("interpreter_ar1", ARABIC)
    await ar1.ws.ok("on_air", on=True)
    token = await _invitation_token(h, "observer", max_uses=None)
    base, mid = h.served.base_url, h.meeting.meeting_id
    players = {}
    for channel in ("ar", "floor"):
        rtc = RtcClient(name=f"ir-{channel}")
        players[channel] = await HttpMediaSession.start(
            http, f"{base}/whep/{mid}/{channel}", token, rtc, trickle=True)
        await rtc.wait_connected(within_s=20.0)
    ears = {c: Attendee(c, chair.ws, s.rtc) for c, s in players.items()}
    await hears(ears["ar"], [ARABIC], [REMOTE])
    await hears(ears["floor"], [REMOTE], [ARABIC])
    for s in players.values():
        assert (await s.delete()).status_code == 200  # the invitation's token may end them
        await s.rtc.close()
