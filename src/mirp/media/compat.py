"""Every use of aiortc's and aioice's private internals, and the start-up self-check that decides
whether each fast path built on them is on.

Why internals at all: measured on this machine kind, aiortc's public path costs ~4x the CPU per
listener of our fan-out loop, adds ~80 ms of jitter buffer on the way in, and aioice's consent
check drops healthy peers whose answers take over 0.5 s (docs/media.md, docs/media-net.md). Why
one module: a renamed attribute must turn a fast path off *visibly* (in the log and on /readyz),
not fall back silently at 4x the CPU with every test green. So every other media module uses
only aiortc's and aioice's public API plus the typed functions below, and each function belongs
to one **feature**:

- `fanout`: the fan-out writes RTP itself (RTP header, the sender's SRTP session, `sendto` on the
  nominated ICE pair) and keeps the sender's RTCP sender-report counters right
  (media/fanout.py). Off: a FeedTrack per listener handing one shared `av.Packet` to aiortc.
- `receive_tap`: the lean receive path replaces a receiver's jitter buffer with a tap
  (media/source.py). Off: decoded frames from `track.recv()` (the stock ~80 ms path).
- `consent`: our RFC 7675 consent check runs in aioice's consent-task slot and counts what the
  peer sends (media/consent.py). Off: aioice's own check, and no silence watchdog.
- `video_forward`: speaker video is forwarded, never decoded (media/video.py): a tap in place of
  a video receiver's jitter buffer hands over whole RTP packets, PLIs and REMBs go to the
  publisher through its receiver's RTCP, and the viewers' PLIs and NACKs reach the forwarder
  instead of aiortc's sender. Off: the plane answers video m-lines `inactive` (audio only).
- `loopback_gathering`: 127.0.0.1-only ICE gathering for the test suite (a network namespace
  where `lo` is the only interface). Off: gathering is not restricted.

`self_check()` builds one throwaway peer connection (no socket, nothing started; ~15 ms, once
per process), checks the versions and that every attribute, method and signature used here exists
with the expected shape, and decides each feature on or off with a reason. A version other than
`PINNED` alone does not turn anything off: the shapes decide, the version is reported (the drift
lane, scripts/media-drift.sh, relies on that). `enabled(feature)` is what the rest consults.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Literal, TypeVar

import aioice.ice
import aioice.stun
from aiortc import (
    RTCConfiguration,
    RTCDtlsTransport,
    RTCPeerConnection,
    RTCRtpParameters,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.clock import current_ntp_time
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    HeaderExtensionsMap,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    pack_remb_fci,
)

from mirp.media.selfcheck import (
    PINNED,
    FeatureCheck,
    Missing,
    SelfCheck,
    has,
    need,
    params,
    source_has,
)

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
Feature = Literal["fanout", "receive_tap", "consent", "video_forward", "loopback_gathering"]
FEATURES: tuple[Feature, ...] = ("fanout", "receive_tap", "consent", "video_forward",
                                 "loopback_gathering")
Addr = tuple[str, int]
_T = TypeVar("_T")


# --- the self-check ---------------------------------------------------------------------------


def _check_fanout(t: RTCRtpTransceiver) -> None:
    sender, dtls = t.sender, t.sender.transport
    for name in ("packet_count", "octet_count", "rtp_timestamp", "ntp_timestamp"):
        has(sender, f"_RTCRtpSender__{name}", int)
    has(sender, "_RTCRtpSender__started", bool)
    has(sender, "_ssrc", int)
    source_has(RTCRtpSender._run_rtcp, ("packet_count=self.__packet_count",
                                        "rtp_timestamp=self.__rtp_timestamp"),
               "RTCRtpSender._run_rtcp")
    has(dtls, "_state", DtlsState)
    has(dtls, "_tx_srtp")
    for state in ("CONNECTED", "CLOSED", "FAILED"):
        need(hasattr(DtlsState, state), f"RTCDtlsTransport State.{state} missing")
    has(dtls.transport, "_connection", aioice.ice.Connection)
    has(dtls.transport._connection, "_nominated", dict)
    params(aioice.ice.CandidatePair.__init__, ["self", "protocol", "remote_candidate"],
           "aioice CandidatePair")
    need(isinstance(getattr(aioice.ice.CandidatePair, "remote_addr", None), property),
         "aioice CandidatePair.remote_addr missing")
    has(t, "_codecs", list)
    has(t, "_headerExtensions", list)
    block = _extension_block("0", RTCRtpParameters(headerExtensions=[]))
    need(block == b"", "aiortc's RTP packet writes header extensions nobody negotiated")


def _check_receive_tap(t: RTCRtpTransceiver) -> None:
    has(t.receiver, _JITTER_ATTR)
    need(callable(getattr(getattr(t.receiver, _JITTER_ATTR), "add", None)),
         "the receiver's jitter buffer has no add()")
    source_has(RTCRtpReceiver._handle_rtp_packet,
               ("pli_flag, encoded_frame = self.__jitter_buffer.add(packet)",),
               "RTCRtpReceiver._handle_rtp_packet")


def _check_consent(t: RTCRtpTransceiver) -> None:
    dtls = t.receiver.transport
    conn = dtls.transport._connection
    for name in ("query_consent", "request_received", "build_request"):
        need(callable(getattr(conn, name, None)), f"aioice Connection.{name} missing")
    for name in ("_query_consent_task", "_nominated", "local_password", "remote_password"):
        has(conn, name)
    params(aioice.ice.Connection.build_request, ["self", "pair", "nominate"],
           "aioice Connection.build_request")
    params(aioice.stun.Message.check_message_integrity, ["self", "key"],
           "aioice Message.check_message_integrity")
    protocol = aioice.ice.StunProtocol(conn)
    has(protocol, "transactions", dict)
    need(callable(getattr(protocol, "send_stun", None)), "aioice StunProtocol.send_stun missing")
    source_has(aioice.ice.Connection.connect, (
        "self._query_consent_task = asyncio.create_task(self.query_consent())",),
        "aioice Connection.connect")
    source_has(aioice.ice.Connection.close, ("self._query_consent_task.cancel()",),
               "aioice Connection.close")
    source_has(aioice.ice.StunProtocol.datagram_received, (
        "message.transaction_id in self.transactions",
        "transaction.response_received(message, addr)",
        "self.receiver.request_received(message, addr, self)"),
        "aioice StunProtocol.datagram_received")
    for name in ("_handle_rtp_data", "_handle_rtcp_data"):
        need(callable(getattr(dtls, name, None)), f"RTCDtlsTransport.{name} missing")
    has(dtls, "_RTCDtlsTransport__rx_packets", int)
    source_has(RTCDtlsTransport._recv_next, (
        "self.__rx_packets += 1", "self._handle_rtcp_data(data)",
        "self._handle_rtp_data(data, arrival_time_ms=arrival_time_ms)"),
        "RTCDtlsTransport._recv_next")


def _check_video_forward(t: RTCRtpTransceiver) -> None:
    _check_receive_tap(t)
    has(t.receiver, _RTCP_SSRC_ATTR)
    for name in ("_send_rtcp_pli", "_send_rtcp"):
        need(callable(getattr(t.receiver, name, None)), f"RTCRtpReceiver.{name} missing")
    need(callable(getattr(t.sender, "_handle_rtcp_packet", None)),
         "RTCRtpSender._handle_rtcp_packet missing")
    source_has(RTCDtlsTransport._handle_rtcp_data, ("recipient._handle_rtcp_packet(packet)",),
               "RTCDtlsTransport._handle_rtcp_data")
    source_has(RTCRtpReceiver._handle_rtp_packet, ("packet = unwrap_rtx(",),
               "RTCRtpReceiver._handle_rtp_packet")
    has(t.receiver, _RECEIVER_CODECS_ATTR, dict)


def _check_loopback_gathering(t: RTCRtpTransceiver) -> None:
    params(getattr(aioice.ice, "get_host_addresses", None), ["use_ipv4", "use_ipv6"],
           "aioice.ice.get_host_addresses")


_CHECKS: dict[Feature, Callable[[RTCRtpTransceiver], None]] = {
    "fanout": _check_fanout, "receive_tap": _check_receive_tap, "consent": _check_consent,
    "video_forward": _check_video_forward, "loopback_gathering": _check_loopback_gathering,
}
_decided: SelfCheck | None = None


def self_check(*, fresh: bool = False) -> SelfCheck:
    """Decide every feature (once per process; `fresh`: again, e.g. after a monkeypatch) and log
    the result: a warning when a fast path is off, so the fallback's cost is never silent."""
    global _decided
    if _decided is not None and not fresh:
        return _decided
    versions = {name: version(name) for name in PINNED}
    _decided = SelfCheck(versions, versions == PINNED, _in_a_loop(_features))
    if _decided.all_on and _decided.pinned:
        log.info("aiortc internals: %s", _decided.summary())
    else:
        log.warning("aiortc internals: %s", _decided.summary())
    return _decided


def _in_a_loop(fn: Callable[[], _T]) -> _T:
    """aiortc's and aioice's constructors want an event loop: outside one, a short-lived loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()

        async def run() -> _T:
            return fn()

        try:
            return loop.run_until_complete(run())
        finally:
            loop.close()
    return fn()


def _features() -> tuple[FeatureCheck, ...]:
    """Each feature checked on a throwaway peer connection (nothing started: nothing to close)."""
    transceiver = RTCPeerConnection(RTCConfiguration(iceServers=[])).addTransceiver(
        "audio", direction="sendrecv")
    results = []
    for name, check in _CHECKS.items():
        try:
            check(transceiver)
        except Missing as exc:
            results.append(FeatureCheck(name, False, str(exc)))
        except Exception as exc:  # a shape so different that checking it raised
            results.append(FeatureCheck(name, False, f"{type(exc).__name__}: {exc}"[:200]))
        else:
            results.append(FeatureCheck(name, True, "ok"))
    return tuple(results)


def enabled(feature: Feature) -> bool:
    return self_check().on(feature)


# --- fanout -----------------------------------------------------------------------------------


class TransportGone(Exception):
    """The sender's DTLS transport closed or failed: the listener is gone."""


@dataclass(slots=True)
class SenderWire:
    """What the fan-out needs to write RTP for one sender itself."""

    dtls: RTCDtlsTransport
    srtp: Any  # aiortc's SRTP session: protect(bytes) -> bytes
    udp: Any  # the nominated ICE pair's asyncio datagram transport (has get_write_buffer_size)
    addr: Addr
    ssrc: int


def sender_wire(sender: RTCRtpSender) -> SenderWire | None:
    """The sender's wire once DTLS is up and the sender started sending; None: not yet (or a
    sender that never sends); TransportGone when its transport closed or failed."""
    dtls = sender.transport
    state = dtls._state
    if state in (DtlsState.CLOSED, DtlsState.FAILED):
        raise TransportGone(state.name.lower())
    if state is not DtlsState.CONNECTED or dtls._tx_srtp is None \
            or not sender._RTCRtpSender__started:  # type: ignore[attr-defined]
        return None
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None or pair.protocol.transport is None:
        return None
    return SenderWire(dtls, dtls._tx_srtp, pair.protocol.transport, pair.remote_addr,
                      sender._ssrc)


def dtls_connected(dtls: RTCDtlsTransport) -> bool:
    """Per packet, so an identity test on the private state, not the public string property."""
    return dtls._state is DtlsState.CONNECTED


def ntp_now() -> int:
    return current_ntp_time()


def record_sent(sender: RTCRtpSender, packets: int, octets: int, rtp_ts: int, ntp: int) -> None:
    """Keep the sender's RTCP sender-report counters right: aiortc's own RTCP task sends the SRs
    (and the BYE) from them, though its RTP task never sent a packet."""
    s: Any = sender
    s._RTCRtpSender__packet_count = packets
    s._RTCRtpSender__octet_count = octets
    s._RTCRtpSender__rtp_timestamp = rtp_ts
    s._RTCRtpSender__ntp_timestamp = ntp


def negotiated_codec(transceiver: RTCRtpTransceiver) -> tuple[str, int] | None:
    """(mime type, payload type) of the first codec negotiated; None when unknown."""
    codecs = getattr(transceiver, "_codecs", None)
    if not codecs:
        return None
    return str(codecs[0].mimeType), int(codecs[0].payloadType or 0)


def mid_extension(transceiver: RTCRtpTransceiver) -> bytes:
    """The header-extension block aiortc would write for a packet carrying only the `mid`."""
    return _extension_block(transceiver.mid, RTCRtpParameters(
        headerExtensions=transceiver._headerExtensions))


def _extension_block(mid: str | None, parameters: RTCRtpParameters) -> bytes:
    ext_map = HeaderExtensionsMap()
    ext_map.configure(parameters)
    packet = RtpPacket()
    packet.extensions.mid = mid
    return packet.serialize(ext_map)[12:]


# --- receive_tap ------------------------------------------------------------------------------

_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
OnRtp = Callable[[int, bytes], None]  # (sequence number, Opus payload)


class ReceiverTap:
    """Stands in for aiortc's jitter buffer: forwards each payload, hands aiortc nothing back
    (so its decoder thread and track queue never see a packet)."""

    def __init__(self, on_rtp: OnRtp) -> None:
        self.on_rtp: OnRtp | None = on_rtp

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        on_rtp = self.on_rtp
        if on_rtp is not None:
            on_rtp(packet.sequence_number, packet.payload)
        return False, None

    def detach(self) -> None:
        self.on_rtp = None


def tap_receiver(receiver: RTCRtpReceiver, on_rtp: OnRtp) -> ReceiverTap | None:
    """Replace this receiver's jitter buffer by a tap; None when `receive_tap` is off."""
    if not enabled("receive_tap") or not hasattr(receiver, _JITTER_ATTR):
        return None
    tap = ReceiverTap(on_rtp)
    setattr(receiver, _JITTER_ATTR, tap)
    return tap


# --- video_forward ----------------------------------------------------------------------------

_RTCP_SSRC_ATTR = "_RTCRtpReceiver__rtcp_ssrc"
OnVideoRtp = Callable[[RtpPacket], None]
# what a viewer's browser asks of the stream it receives: ("pli", []) or ("nack", [seq, ...])
OnFeedback = Callable[[str, list[int]], None]


class VideoTap:
    """Stands in for a video receiver's jitter buffer: each RTP packet (RTX already unwrapped by
    aiortc) goes to the forwarder; aiortc's decoder never sees a frame."""

    def __init__(self, on_packet: OnVideoRtp) -> None:
        self.on_packet: OnVideoRtp | None = on_packet

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        on_packet = self.on_packet
        if on_packet is not None:
            on_packet(packet)
        return False, None

    def detach(self) -> None:
        self.on_packet = None


def tap_video_receiver(receiver: RTCRtpReceiver, on_packet: OnVideoRtp) -> VideoTap | None:
    """Replace this video receiver's jitter buffer by a tap; None when `video_forward` is off."""
    if not enabled("video_forward") or not hasattr(receiver, _JITTER_ATTR):
        return None
    tap = VideoTap(on_packet)
    setattr(receiver, _JITTER_ATTR, tap)
    return tap


async def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """An RTCP PLI to the publisher of `media_ssrc` (RFC 4585 6.3.1)."""
    await receiver._send_rtcp_pli(media_ssrc)


async def send_remb(receiver: RTCRtpReceiver, bitrate: int, media_ssrc: int) -> None:
    """A REMB (the bitrate the publisher may send at most) to the publisher of `media_ssrc`."""
    ssrc = getattr(receiver, _RTCP_SSRC_ATTR, None)
    if ssrc is None:
        return
    await receiver._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=ssrc, media_ssrc=0,
                                             fci=pack_remb_fci(bitrate, [media_ssrc])))


_RECEIVER_CODECS_ATTR = "_RTCRtpReceiver__codecs"


def receiver_codecs(receiver: RTCRtpReceiver) -> dict[int, str]:
    """payload type -> lower-case mime type of what this receiver was told to receive (empty
    until it starts receiving): which codec a tapped publisher's packet carries."""
    codecs = getattr(receiver, _RECEIVER_CODECS_ATTR, None) or {}
    return {int(pt): str(c.mimeType).lower() for pt, c in codecs.items()}


def payload_types(transceiver: RTCRtpTransceiver) -> dict[str, int]:
    """lower-case mime type -> the first payload type negotiated for it (RTX left out): what
    a viewer's m-line calls each codec a forwarded packet may carry."""
    out: dict[str, int] = {}
    for codec in getattr(transceiver, "_codecs", None) or ():
        mime = str(codec.mimeType).lower()
        if mime != "video/rtx" and codec.payloadType is not None:
            out.setdefault(mime, int(codec.payloadType))
    return out


def hook_sender_feedback(sender: RTCRtpSender, on_feedback: OnFeedback) -> None:
    """PLI/FIR and NACKs about what this sender sends go to `on_feedback`, not to aiortc (which
    would ask an encoder we do not have for a keyframe, or look in its own empty history)."""
    original = sender._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            on_feedback("pli", [])
        elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            on_feedback("nack", list(packet.lost))
        else:
            await original(packet)

    setattr(sender, "_handle_rtcp_packet", handle)  # noqa: B010 - an instance override


# --- consent ----------------------------------------------------------------------------------


def ice_connection(dtls: RTCDtlsTransport) -> aioice.ice.Connection:
    connection: aioice.ice.Connection = dtls.transport._connection
    return connection


def dtls_datagrams(dtls: RTCDtlsTransport) -> int:
    """Datagrams through the DTLS transport (DTLS, SRTP, SRTCP), before any check."""
    return int(getattr(dtls, "_RTCDtlsTransport__rx_packets", 0))


def hook_stun_requests(conn: aioice.ice.Connection,
                       hook: Callable[[aioice.stun.Message, Addr], bool]) -> None:
    """Every STUN request to this connection goes through `hook` first (False: dropped)."""
    original = conn.request_received

    def request_received(message: aioice.stun.Message, addr: Addr, *rest: Any) -> None:
        if hook(message, addr):
            original(message, addr, *rest)

    setattr(conn, "request_received", request_received)  # noqa: B010 - an instance override


def hook_srtp_received(dtls: RTCDtlsTransport, hook: Callable[[], None]) -> None:
    """`hook()` for every SRTP/SRTCP packet that decrypted (aiortc hands only those on)."""
    for name in ("_handle_rtp_data", "_handle_rtcp_data"):
        original = getattr(dtls, name)

        async def handle(data: bytes, *args: Any, _original: Any = original,
                         **kwargs: Any) -> None:
            hook()
            await _original(data, *args, **kwargs)

        setattr(dtls, name, handle)


def replace_consent_check(conn: aioice.ice.Connection,
                          check: Callable[[], Awaitable[None]]) -> None:
    """aioice starts `check()` when ICE completes and cancels it when the connection closes."""
    setattr(conn, "query_consent", check)  # noqa: B010 - an instance override


def consent_check_ended(conn: aioice.ice.Connection) -> None:
    """Called by a consent check that ends by itself: aioice's close() must not await it."""
    conn._query_consent_task = None


class ConsentCheck:
    """One consent check, in aioice's transaction table until answered or forgotten; aioice
    calls `response_received` for any STUN response with its transaction id."""

    __slots__ = ("addr", "key", "on_answer", "protocol", "sent_at", "tid")

    def __init__(self, protocol: Any, tid: bytes, addr: Addr, key: bytes, sent_at: float,
                 on_answer: Callable[[ConsentCheck], None]) -> None:
        self.protocol, self.tid, self.addr = protocol, tid, addr
        self.key, self.sent_at, self.on_answer = key, sent_at, on_answer

    def response_received(self, message: aioice.stun.Message, addr: Addr) -> None:
        # only a success response, signed with the peer's password, from where we sent the check
        # (RFC 7675 section 5.1); anything else leaves the check outstanding
        if message.message_class != aioice.stun.Class.RESPONSE or addr != self.addr:
            return
        if message.check_message_integrity(self.key):
            self.on_answer(self)

    def forget(self) -> None:
        if self.protocol.transactions.get(self.tid) is self:
            del self.protocol.transactions[self.tid]


def send_consent_checks(conn: aioice.ice.Connection, now: float,
                        on_answer: Callable[[ConsentCheck], None]) -> list[ConsentCheck]:
    """One check on every nominated pair (none before the peer's password is known)."""
    if conn.remote_password is None:
        return []
    key = conn.remote_password.encode("utf8")
    sent = []
    for pair in list(conn._nominated.values()):
        request = conn.build_request(pair, nominate=False)
        request.add_message_integrity(key)
        protocol: Any = pair.protocol  # its table holds aioice Transactions; ours quacks alike
        check = ConsentCheck(protocol, request.transaction_id, pair.remote_addr, key, now,
                             on_answer)
        protocol.transactions[check.tid] = check
        protocol.send_stun(request, pair.remote_addr)
        sent.append(check)
    return sent


# --- loopback_gathering -----------------------------------------------------------------------

_loopback: contextvars.ContextVar[bool] = contextvars.ContextVar("mirp_loopback", default=False)
_original_host_addresses = aioice.ice.get_host_addresses


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _loopback.get():
        return [LOOPBACK] if use_ipv4 else []
    return _original_host_addresses(use_ipv4, use_ipv6)


@contextlib.contextmanager
def loopback_gathering() -> Iterator[None]:
    """Within this block (this task and tasks it starts), aioice gathers 127.0.0.1 only: aioice
    skips loopback addresses, and the suite runs where `lo` is the only interface. The
    replacement of aioice's host address lookup is installed on first use and is inert outside
    such a block (other connections, other tasks: unchanged)."""
    if enabled("loopback_gathering"):
        aioice.ice.get_host_addresses = _host_addresses
    token = _loopback.set(True)
    try:
        yield
    finally:
        _loopback.reset(token)
