"""The edge's side on its own (rooms/hop.py, rooms/remote.py): every message of the hop survives
its encoding, bad ones are refused with a typed error, and an origin that does not answer (or is
not there) gives the edge's Session `Unavailable`, never a hang."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from mirp.cluster.bus import Envelope, Kind, LocalBus
from mirp.errors import Forbidden, InvalidMessage, Unavailable
from mirp.media.plan import FeedKey
from mirp.rooms import commands as c
from mirp.rooms import hop
from mirp.rooms.edge_media import address_parse, address_text
from mirp.rooms.remote import RemoteRoom
from tests.rooms.test_runtime import GRANTS, FakeSession
from tests.support.wait import Seen, until

WELCOME = hop.WelcomeOut("s_1", "p_d1", {"floor": {"holders": []}, "ü": "ß"}, 4, False)
MESSAGES: list[hop.Request | hop.Reply | hop.Out] = [
    hop.OpenRequest("m1", 3),
    hop.JoinRequest(GRANTS["fr1"], "s_1", "s_0"),
    hop.JoinRequest(GRANTS["chair"], "s_2"),
    hop.CommandRequest("p_d1", "s_1", c.Subscribe("fr", -12), {"type": "ack", "id": 5}),
    hop.CommandRequest("p_d1", "s_1", c.SpeakersReorder(("p_d2", "p_d1"))),
    hop.LeaveRequest("p_d1", "s_1", True),
    hop.ResyncRequest("t", (("p_d1", "s_1"), ("p_d2", "s_2"))),
    hop.Done(),
    hop.EventOut(7, '{"type":"floor","seq":7}', ("p_d1", "p_d2")),
    hop.DirectOut("s_1", '{"type":"ack","id":1}'),
    WELCOME,
    hop.CloseOut("s_1", 4409, "replaced"),
    hop.Resynced("t", (WELCOME,)),
    hop.PeerUp("p_d1", "s_1"),
    hop.PeerUp("p_d1", "s_1", camera=True),
    hop.PeerDown("p_d1", "s_1", "ice failed"),
    hop.ListenOut("edge", "p_d1", FeedKey("fr", -12, "p_d2")),
    hop.ListenOut("edge", "p_d1", FeedKey("floor")),
    hop.ListenOut("edge", "p_d1", None),
    hop.PeerCloseOut("edge", "p_d1"),
    hop.SourcesOut(("p_d1", "p_fr1")),
    hop.SourcesOut(("p_d1",), (("p_d2", "p_d1"), ("p_fr1#partner", "p_fr2"))),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_hop_message_round_trips(message: object) -> None:
    assert hop.decode(hop.encode(message)) == message  # type: ignore[arg-type]


def test_a_stream_envelope_carries_several_messages_in_order() -> None:
    outs = [m for m in MESSAGES if isinstance(m, hop.Out)]
    assert hop.decode_stream(hop.encode_stream([hop.dump(m) for m in outs])) == outs
    for bad in (b"{}", b"[{}]", b"[", hop.encode_stream([hop.dump(hop.Done())])):
        with pytest.raises(InvalidMessage):
            hop.decode_stream(bad)


def test_errors_travel_typed() -> None:
    for made in (hop.Failed(Forbidden("chairs only", {"role": "delegate"})),
                 hop.CloseOut("s", 4403, "removed", Forbidden("removed"))):
        back = hop.decode(hop.encode(made))
        error = back.error  # type: ignore[union-attr]
        assert isinstance(error, Forbidden)
        assert error.message == made.error.message  # type: ignore[union-attr]
        assert error.details == made.error.details  # type: ignore[union-attr]


@pytest.mark.parametrize("data", [
    b"", b"[]", b"{}", b'{"op":"nothing"}', b'{"op":"done"', b"\xff",
    b'{"op":"command","participant_id":"p","session_id":"s","ack":null,'
    b'"command":{"type":"subscribe","channel":"fr","extra":1}}',  # the strict class refuses
    b'{"op":"command","participant_id":"p","session_id":"s","ack":null,'
    b'"command":{"type":"no_such_command"}}',
    b'{"op":"join","session_id":"s","resume":null,"grant":{"role":"king"}}',
    b'{"op":"listen","node_id":"e","participant_id":"p","key":["fr"]}',  # a key of 3 fields
    b'{"op":"peer_up","participant_id":"p"}',
])
def test_bad_hop_messages_are_refused_typed(data: bytes) -> None:
    with pytest.raises(InvalidMessage):
        hop.decode(data)


async def test_an_origin_that_does_not_answer_gives_unavailable() -> None:
    bus = LocalBus(node_id="edge")
    remote = await RemoteRoom("m1", bus, 1, timeout_s=0.2).start()
    session = FakeSession("d1")
    try:
        with pytest.raises(Unavailable, match="nobody serves"):  # no origin at all
            await remote.join(GRANTS["d1"], session)
        deaf = await bus.as_node("origin").subscribe(hop.command_topic("m1"))  # hears, mute
        with pytest.raises(Unavailable, match="no reply"):
            await remote.join(GRANTS["d1"], session)
        assert len(remote) == 0 and session.messages == []
        with pytest.raises(Unavailable, match="no reply"):
            await remote.command("p_d1", session, c.FloorRequest())
        assert deaf.state == "live"
    finally:
        await remote.close()
        await bus.aclose()


async def test_an_admitted_session_whose_welcome_never_comes_gives_unavailable() -> None:
    bus = LocalBus(node_id="edge")
    origin = bus.as_node("origin")
    requests = await origin.subscribe(hop.command_topic("m1"))

    async def admit_only() -> None:  # answers Done but loses the welcome
        async for env in requests:
            await origin.reply(env, Envelope(Kind.REPLY, "origin", hop.encode(hop.Done())))

    task = asyncio.create_task(admit_only())
    remote = await RemoteRoom("m1", bus, 1, timeout_s=0.2).start()
    try:
        with pytest.raises(Unavailable, match="no welcome"):
            await remote.join(GRANTS["d1"], FakeSession("d1"))
        assert len(remote) == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await remote.close()
        await bus.aclose()


async def test_the_stream_is_delivered_to_the_sessions_it_names() -> None:
    """Events go to welcomed recipients only, direct messages and closes to their Session."""
    bus = LocalBus(node_id="edge")
    origin = bus.as_node("origin")
    requests = await origin.subscribe(hop.command_topic("m1"))
    n = 0

    async def stream(message: hop.Out) -> None:
        nonlocal n
        n += 1
        await origin.publish(hop.events_topic("m1"), Envelope(
            Kind.EVENT, "origin", hop.encode_stream([hop.dump(message)]), epoch=1, seq=n))

    async def serve() -> None:
        async for env in requests:
            request = hop.decode(env.body)
            assert isinstance(request, hop.JoinRequest)
            pid = request.grant.participant_id
            await stream(hop.WelcomeOut(request.session_id, pid, {}, n, False))
            await origin.reply(env, Envelope(Kind.REPLY, "origin", hop.encode(hop.Done())))

    task = asyncio.create_task(serve())
    remote = await RemoteRoom("m1", bus, 1, timeout_s=2.0).start()
    d1, d2 = FakeSession("d1"), FakeSession("d2")
    try:
        await remote.join(GRANTS["d1"], d1)
        await remote.join(GRANTS["d2"], d2)
        await stream(hop.EventOut(10, '{"type":"floor","seq":10}', ("p_d1", "p_other")))
        await stream(hop.DirectOut(d2.id, '{"type":"ack","id":4}'))
        await stream(hop.CloseOut(d1.id, 4403, "removed", Forbidden("removed")))
        await until(lambda: d1.closed or Seen(d1.messages), "d1 closed")
        assert [m["type"] for m in d1.messages] == ["welcome", "floor", "error"]
        assert d1.closed == (4403, "removed")
        assert [m["type"] for m in d2.messages] == ["welcome", "ack"]
        assert len(remote) == 1 and remote.resyncs == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await remote.close()
        await bus.aclose()


@pytest.mark.parametrize("address", [("127.0.0.1", 40000), ("::1", 5), ("node-3.lan", 65535)])
def test_a_relay_address_survives_the_directory(address: tuple[str, int]) -> None:
    assert address_parse(address_text(address)) == address


@pytest.mark.parametrize("text", ["", "127.0.0.1", "127.0.0.1:0", "host:port", ":4000"])
def test_a_node_without_a_relay_address_has_none(text: str) -> None:
    assert address_parse(text) is None
