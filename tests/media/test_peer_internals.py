"""The aioice/aiortc internals media/consent.py relies on. If one of these fails after an upgrade,
do not patch the test: re-read aioice's consent and transaction code, adapt media/consent.py,
then move PINNED and the pins in pyproject.toml together."""

from __future__ import annotations

import asyncio
import inspect

import aioice
import aioice.ice
import aioice.stun
import aiortc
import pytest
from aiortc.rtcdtlstransport import RTCDtlsTransport

from mirp.media.consent import PINNED, internals_version_ok
from mirp.media.peer import PeerFactory
from tests.support.rtc import RtcClient

pytestmark = pytest.mark.rtc


def test_versions_are_the_pinned_ones() -> None:
    assert (aioice.__version__, aiortc.__version__) == (PINNED["aioice"], PINNED["aiortc"]), (
        "aioice/aiortc changed: media/consent.py reaches into their internals; re-check it")
    assert internals_version_ok()


def test_aioice_starts_consent_through_the_instance_attribute() -> None:
    # connect() must start consent with self.query_consent() into _query_consent_task, and close()
    # must cancel that task: our check replaces the attribute on the instance
    connect = inspect.getsource(aioice.ice.Connection.connect)
    assert "self._query_consent_task = asyncio.create_task(self.query_consent())" in connect
    close = inspect.getsource(aioice.ice.Connection.close)
    assert "self._query_consent_task.cancel()" in close
    # responses reach whatever sits in the protocol's transaction table under their id
    received = inspect.getsource(aioice.ice.StunProtocol.datagram_received)
    assert "message.transaction_id in self.transactions" in received
    assert "transaction.response_received(message, addr)" in received
    assert "self.receiver.request_received(message, addr, self)" in received
    # the signatures we call
    assert list(inspect.signature(aioice.ice.Connection.build_request).parameters) == [
        "self", "pair", "nominate"]
    assert list(inspect.signature(aioice.stun.Message.check_message_integrity).parameters) == [
        "self", "key"]
    # authenticated media: aiortc hands only SRTP-unprotected packets to these two
    run = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "self._rx_srtp.unprotect_rtcp(data)" in run and "self._handle_rtcp_data(data)" in run
    assert "self._handle_rtp_data(data, arrival_time_ms=arrival_time_ms)" in run
    assert "self.__rx_packets += 1" in run


async def test_a_real_connection_has_the_attributes_we_use() -> None:
    factory = PeerFactory(loopback_only=True, consent_interval_s=0.2, consent_lapse_s=5.0)
    session = factory.create_session("p")
    client = RtcClient(name="p")
    await client.accept_answer(await session.accept_offer(await client.offer()))
    await client.wait_connected()
    await session.wait_connected(10)
    dtls = session.pc.getTransceivers()[0].receiver.transport
    conn = dtls.transport._connection
    assert isinstance(conn, aioice.ice.Connection)
    assert isinstance(getattr(dtls, "_RTCDtlsTransport__rx_packets", None), int)
    assert conn._nominated and conn.remote_password and conn.local_password
    for pair in conn._nominated.values():
        assert isinstance(pair.protocol.transactions, dict) and pair.remote_addr
    # our consent task runs in aioice's slot, and its answers arrive
    task = conn._query_consent_task
    assert task is not None and "PeerLiveness._consent" in repr(task.get_coro())
    deadline = 50
    while session.liveness.stats.responses < 2 and deadline:
        await client.wait_connected(1)
        await asyncio.sleep(0.1)
        deadline -= 1
    assert session.liveness.stats.responses >= 2, session.liveness.stats
    await client.close()
    await factory.close()
