"""media/compat.py: the one owner of aiortc's and aioice's internals, and its start-up self-check.

With the pinned versions every fast path is on; a missing internal (faked here with monkeypatch)
turns its feature off, and that is seen: in the log, in the plane's stats, on /readyz, and in
what the media code then does (the public path). If a check fails after an upgrade, do not patch
the test: re-read the changed aiortc/aioice code, adapt media/compat.py, then move PINNED and the
pins in pyproject.toml together (scripts/media-drift.sh shows what drifted)."""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender

from mirp.media import compat
from mirp.media.fanout import Fanout
from mirp.media.local import LocalPlane
from mirp.media.peer import PeerFactory
from mirp.media.selfcheck import PINNED, SelfCheck
from mirp.media.source import Source
from tests.support.factory import running_app
from tests.support.rtc import RtcClient
from tests.support.wait import until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def decide_again(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A monkeypatch whose faked internals are undone *and* re-checked afterwards, so no later
    test in this process inherits a feature turned off."""
    yield monkeypatch
    monkeypatch.undo()
    assert compat.self_check(fresh=True).all_on


def _rename_after_init(monkeypatch: pytest.MonkeyPatch, cls: type, old: str, new: str) -> None:
    """As if a new aiortc renamed one instance attribute of `cls`."""
    init = vars(cls)["__init__"]

    def renamed(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        setattr(self, new, getattr(self, old))
        delattr(self, old)

    monkeypatch.setattr(cls, "__init__", renamed)


def test_fast_paths_are_on_with_the_pinned_versions() -> None:
    check = compat.self_check(fresh=True)
    assert check.versions == PINNED and check.pinned
    assert [f.name for f in check.features] == list(compat.FEATURES)
    assert check.all_on, check.summary()
    assert all(f.reason == "ok" for f in check.features)
    assert check.to_wire()["fast_path"] == "on"
    assert SelfCheck.from_wire(check.to_wire()) == check


def test_pyproject_pins_the_versions_compat_was_written_against() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for dep in deps:
        pinned = re.fullmatch(r"(aiortc|aioice)==(\S+)", dep)
        if pinned:
            pins[pinned[1]] = pinned[2]
    assert pins == PINNED


async def test_a_renamed_receiver_internal_turns_the_tap_off_and_says_so(
        decide_again: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _rename_after_init(decide_again, RTCRtpReceiver, "_RTCRtpReceiver__jitter_buffer",
                       "_RTCRtpReceiver__jitterbuffer")
    with caplog.at_level(logging.WARNING, logger="mirp.media.compat"):
        check = compat.self_check(fresh=True)
    assert not check.on("receive_tap") and check.on("fanout") and check.on("consent")
    reason = next(f.reason for f in check.features if f.name == "receive_tap")
    assert "_RTCRtpReceiver__jitter_buffer" in reason, reason
    assert "receive_tap OFF" in caplog.text and "_RTCRtpReceiver__jitter_buffer" in caplog.text
    assert check.to_wire()["fast_path"] == "off"
    # and the source really takes the stock path: no tap on a real receiver
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = pc.addTransceiver("audio").receiver
    source = Source("s")
    source.attach(receiver, None)
    assert not source.tapped
    source.close()
    await pc.close()
    # the plane reports it in its stats (the media process sends the same in its Ready message)
    plane = LocalPlane()
    try:
        stats = await plane.stats()
        assert stats.self_check is not None and not stats.self_check.on("receive_tap")
    finally:
        await plane.close()


async def test_a_renamed_sender_counter_turns_the_fast_fanout_off_and_readyz_shows_it(
        decide_again: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _rename_after_init(decide_again, RTCRtpSender, "_RTCRtpSender__packet_count",
                       "_RTCRtpSender__packets")
    check = compat.self_check(fresh=True)
    assert not check.on("fanout") and check.on("receive_tap")
    assert not Fanout().fast  # every listener then takes the public path
    async with running_app(tmp_path, media_process=False) as (_app, client):
        r = await client.get("/readyz")
    assert r.status_code == 200, r.text  # slower, still serving
    media = r.json()["media"]
    assert media["fast_path"] == "off"
    assert media["features"]["fanout"]["on"] is False
    assert "_RTCRtpSender__packet_count" in media["features"]["fanout"]["reason"]
    assert media["features"]["receive_tap"] == {"on": True, "reason": "ok"}


def test_a_changed_signature_turns_loopback_gathering_off(
        decide_again: pytest.MonkeyPatch) -> None:
    decide_again.setattr(aioice.ice, "get_host_addresses", lambda ipv4, ipv6, extra: [])
    check = compat.self_check(fresh=True)
    assert not check.on("loopback_gathering") and check.on("consent")
    reason = next(f.reason for f in check.features if f.name == "loopback_gathering")
    assert "get_host_addresses" in reason, reason


async def test_readyz_shows_every_fast_path_on(tmp_path: Path) -> None:
    async with running_app(tmp_path, media_process=False) as (_app, client):
        media = (await client.get("/readyz")).json()["media"]
    assert media["fast_path"] == "on" and media["pinned"] is True
    assert media["versions"] == PINNED


@pytest.mark.rtc
async def test_a_real_connection_runs_every_fast_path() -> None:
    factory = PeerFactory(loopback_only=True, consent_interval_s=0.2, consent_lapse_s=5.0)
    peer = factory.create_peer("p")
    client = RtcClient(name="p")
    await client.accept_answer(await peer.accept_offer(await client.offer()))
    await client.wait_connected()
    await peer.wait_connected(10)
    dtls = peer.pc.getTransceivers()[0].receiver.transport
    conn = compat.ice_connection(dtls)
    assert isinstance(conn, aioice.ice.Connection)
    assert conn._nominated and conn.remote_password and conn.local_password
    # our consent task runs in aioice's slot, and its answers arrive
    task = conn._query_consent_task
    assert task is not None and "PeerLiveness._consent" in repr(task.get_coro())
    assert peer.liveness.installed
    await until(lambda: peer.liveness.stats.responses >= 2, lambda: str(peer.liveness.stats))
    assert compat.dtls_datagrams(dtls) > 0
    # the fan-out can drive this sender itself
    sender = peer.sender
    assert sender is not None and peer.feed_track.binding is not None
    wire = await until(lambda: compat.sender_wire(sender), "the sender's wire")
    assert wire.addr[0] == compat.LOOPBACK and wire.ssrc == sender._ssrc
    await client.close()
    await factory.close()
