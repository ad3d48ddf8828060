"""WHIP/WHEP's pieces that need no peer: the sdpfrag parser, the first look at an offer, the ICE
servers as Link headers, and who may touch a resource (the end-to-end behaviour, with real
peers: tests/integration/test_hybrid.py)."""

from __future__ import annotations

import pytest

from mirp import tokens
from mirp.api.httpmedia import (
    Resources,
    error_response,
    ice_links,
    ice_ufrag,
    looks_like_sdp,
    parse_sdpfrag,
)
from mirp.config import Settings
from mirp.errors import Forbidden, InvalidSdp, NotFound, Unauthorized
from mirp.rooms.model import JoinGrant, Role

SECRET = "test-secret-key-of-httpmedia-0123456789abcdef"

FRAG = (
    "a=ice-ufrag:EsAw\r\n"
    "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "a=mid:0\r\n"
    "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n"
    "a=candidate:2 1 udp 2130706431 127.0.0.1 50002 typ host\r\n"
    "a=end-of-candidates\r\n"
)


def test_an_sdpfrag_gives_its_ufrag_and_candidates_as_a_browser_would() -> None:
    ufrag, candidates = parse_sdpfrag(FRAG)
    assert ufrag == "EsAw"
    assert candidates == [
        {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "sdpMid": "0",
         "sdpMLineIndex": 0},
        {"candidate": "candidate:2 1 udp 2130706431 127.0.0.1 50002 typ host", "sdpMid": "0",
         "sdpMLineIndex": 0},
        None,
    ]
    assert parse_sdpfrag("") == (None, [])


def test_the_first_look_at_an_offer() -> None:
    looks_like_sdp("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n")
    for bad in ("", "hello", "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"):
        with pytest.raises(InvalidSdp):
            looks_like_sdp(bad)
    assert ice_ufrag("v=0\r\na=ice-ufrag:abcd\r\n") == "abcd"


def test_a_bad_offer_is_400_with_cors() -> None:
    r = error_response(InvalidSdp("no"))
    assert r.status_code == 400
    assert r.headers["access-control-allow-origin"] == "*"
    assert "Location" in r.headers["access-control-expose-headers"]


def test_ice_servers_become_link_headers() -> None:
    settings = Settings.model_validate({"secret_key": SECRET, "ice_servers": [
        {"urls": ["stun:stun.example.org:3478"]},
        {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]})
    links = ice_links(settings)
    assert links is not None
    assert '<stun:stun.example.org:3478>; rel="ice-server"' in links
    assert 'username="u"; credential="p"' in links
    assert ice_links(Settings(secret_key=SECRET)) is None


def _token(pid: str, role: Role = Role.ROOM) -> str:
    return tokens.issue_participant(SECRET, JoinGrant("m1", pid, pid, role), ttl=60)


async def test_a_resource_is_its_owner_s_and_ends_when_the_room_closes_its_session() -> None:
    settings = Settings(secret_key=SECRET)
    resources = Resources()
    r = resources.open("whip", "m1", "p_room")
    assert resources.find("whip", "m1", r.id, settings, _token("p_room")) is r
    with pytest.raises(Forbidden):
        resources.find("whip", "m1", r.id, settings, _token("p_other"))
    with pytest.raises(Unauthorized):
        resources.find("whip", "m1", r.id, settings, "forged")
    with pytest.raises(NotFound):  # the wrong kind, meeting or id: no such resource
        resources.find("whep", "m1", r.id, settings, _token("p_room"))
    with pytest.raises(NotFound):
        resources.find("whip", "m2", r.id, settings, _token("p_room"))
    assert r.path == f"/whip/m1/{r.id}"
    r.session.send({"type": "participant", "id": "x"})  # room events are ignored
    assert r.id in resources.by_id
    r.session.send({"type": "peer_closed", "reason": "ice failed"})  # nobody will re-offer
    assert r.id not in resources.by_id
    assert r.session.closed
