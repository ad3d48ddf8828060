"""The webcast worker: a thread with a UDP socket that the origin's media plane relays a
meeting's feeds to (`relay_to`, docs/relay.md), writing HLS segments and recordings.

Why a thread of its own: the packets arrive encoded, the work per packet is a header parse and a
few appends, and once a second per channel a segment and an Ogg page are written; that must not
run on the media loop (whose ticks are 20 ms) nor on the app's loop (whose requests it would
delay with file writes). A blocking socket with a short timeout keeps it simple: the thread owns
the files, the control side (webcast/service.py, on the app's loop) only posts configurations
into a queue.

The datagram is media/relay_format.py's (one definition): announces map an (epoch, feed id) to a
FeedKey, data carries one 20 ms Opus packet with the media clock's pts. Per channel the
timeline is the channel's own: a gap in the pts is filled with Opus silence (a TOC-only packet,
which decoders conceal) up to `MAX_FILL_PACKETS`, a packet up to a second behind the last one
is dropped, and any bigger jump (a restarted media process starts its clock again) just goes on
from there.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

from mirp.media.plan import FeedKey
from mirp.media.relay_format import (
    ANNOUNCE,
    DATA,
    FRAME_PTS,
    HEADER,
    MAGIC,
    PTS_MASK,
    VERSION,
    Address,
    key_from_json,
    now_us,
)
from mirp.webcast.hls import MASTER, PACKET_SAMPLES, Rendition, master_playlist, write_atomic
from mirp.webcast.record import Recording, RecordingStopped
from mirp.webcast.subtitles import Said, SubtitleTrack

log = logging.getLogger(__name__)

SILENCE = b"\xf8"  # an Opus TOC (CELT, 20 ms, mono) with no frame data: the decoder conceals
MAX_FILL_PACKETS = 250  # 5 s: a longer gap is skipped (the timeline just goes on)
LATE_PTS = 50 * FRAME_PTS  # up to a second back: a late or duplicate packet; further: a new clock


@dataclass(frozen=True, slots=True)
class MeetingConfig:
    """What to make of one meeting: its channels (floor first) and the key each is heard on."""

    meeting_id: str
    keys: tuple[tuple[str, FeedKey], ...]  # (channel, namespaced FeedKey)
    webcast: bool
    recording: bool
    subtitles: tuple[str, ...] = ()  # channels with a WebVTT rendition (Receiver.subtitled)


@dataclass
class _Channel:
    name: str
    rendition: Rendition | None
    last_pts: int | None = None
    first_heard: float = 0.0
    packets: int = 0
    filled: int = 0


@dataclass
class _Meeting:
    config: MeetingConfig
    channels: dict[str, _Channel]
    recording: Recording | None
    alerts: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MeetingStatus:
    webcast: bool
    recording: bool  # running now
    recording_part: str | None
    recording_stopped: str | None  # the alert when it stopped early
    packets: dict[str, int]


class Receiver:
    """One per app: the socket, the meetings' sinks, the thread (start/close)."""

    def __init__(self, webcast_dir: Path, recordings_dir: Path, host: str = "127.0.0.1",
                 segment_packets: int = 50, window: int = 6) -> None:
        self.webcast_dir = webcast_dir
        self.recordings_dir = recordings_dir
        self.segment_packets = segment_packets
        self.window = window
        self.host = host
        self._sock: socket.socket | None = None
        self.address: Address | None = None
        self._commands: queue.SimpleQueue[tuple[str, MeetingConfig | Said | str]] = \
            queue.SimpleQueue()
        # the channels of a meeting that are captioned (app.py sets it when the captioner runs):
        # asked on the caller's loop as a configuration is posted, so the thread reads no Room
        self.subtitled: Callable[[str], Collection[str]] = lambda meeting_id: ()
        self._names: dict[tuple[int, int], FeedKey] = {}
        self._epochs: dict[FeedKey, int] = {}
        self._routes: dict[FeedKey, list[tuple[_Meeting, _Channel]]] = {}
        self._meetings: dict[str, _Meeting] = {}
        self._status: dict[str, MeetingStatus] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mirp-webcast", daemon=True)
        self.malformed = self.unknown = 0

    def start(self) -> Address:
        """Bind the socket (an ephemeral port on `host`) and start the thread; the address the
        media plane relays to."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET,
                             socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((self.host, 0))
        sock.settimeout(0.1)
        name = sock.getsockname()
        self._sock, self.address = sock, (str(name[0]), int(name[1]))
        self._thread.start()
        return self.address

    def close(self) -> None:
        """End every meeting (playlists get ENDLIST, recordings are closed) and the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        else:
            self.finish()
        if self._sock is not None:
            self._sock.close()

    # ---------------------------------------------------------------- the control side's calls
    def configure(self, config: MeetingConfig) -> None:
        if not config.subtitles:
            config = replace(config, subtitles=tuple(self.subtitled(config.meeting_id)))
        self._commands.put(("config", config))

    def caption(self, said: Said) -> None:
        """A caption final for one of a meeting's subtitles renditions (subtitles.py); one of
        a meeting the worker is not making (not webcast, or no worker running) is dropped
        here, so captions never pile up in the queue of a thread that does not run."""
        if said.meeting_id in self._status:
            self._commands.put(("caption", said))

    def end(self, meeting_id: str) -> None:
        self._commands.put(("end", meeting_id))

    def status(self, meeting_id: str) -> MeetingStatus | None:
        return self._status.get(meeting_id)

    # ---------------------------------------------------------------- the thread
    def _run(self) -> None:
        assert self._sock is not None
        last_status = 0.0
        while not self._stop.is_set():
            try:
                data = self._sock.recv(2048)
            except TimeoutError:
                data = b""
            except OSError:
                break
            if data:
                self.received(data)
            self.pump()
            now = time.monotonic()
            if now - last_status > 0.25:
                last_status = now
                self._publish_status()
        self.finish()

    # the thread's steps (tests call them directly, without a socket or a thread)
    def received(self, data: bytes) -> None:
        try:
            self._datagram(data)
        except Exception:  # one bad datagram never stops the webcast
            self.malformed += 1
            log.exception("webcast: datagram dropped")

    def pump(self) -> None:
        """Apply the configurations and ends posted so far."""
        while not self._commands.empty():
            self._command(*self._commands.get_nowait())
        self._publish_status()

    def finish(self) -> None:
        self.pump()
        for meeting_id in list(self._meetings):
            self._end(meeting_id)
        self._publish_status()

    def _command(self, what: str, arg: MeetingConfig | Said | str) -> None:
        try:
            if isinstance(arg, MeetingConfig):
                self._configure(arg)
            elif isinstance(arg, Said):
                self._caption(arg)
            else:
                self._end(arg)
        except Exception:
            log.exception("webcast: %s %s failed", what, arg)

    def _datagram(self, data: bytes) -> None:
        if len(data) < HEADER.size:
            self.malformed += 1
            return
        magic, version, kind, _, fid, epoch, _seq, pts, sent_us = HEADER.unpack_from(data)
        if magic != MAGIC or version != VERSION:
            self.malformed += 1
            return
        if kind == ANNOUNCE:
            self._names[epoch, fid] = key_from_json(data[HEADER.size:])
            return
        if kind != DATA:
            self.malformed += 1
            return
        key = self._names.get((epoch, fid))
        if key is None:
            self.unknown += 1
            return
        if epoch < self._epochs.get(key, -1):  # fenced: an older origin
            return
        self._epochs[key] = epoch
        payload = data[HEADER.size:]
        for meeting, channel in self._routes.get(key, ()):
            self._packet(meeting, channel, pts, payload, sent_us)

    def _packet(self, meeting: _Meeting, channel: _Channel, pts: int, payload: bytes,
                sent_us: int) -> None:
        fill = 0
        if not channel.first_heard:  # the first packet, or the first of a recording turned on
            # the recording's time 0: when the origin sent this packet
            channel.first_heard = sent_at(sent_us)
        if channel.last_pts is not None:
            step = (pts - channel.last_pts) & PTS_MASK
            back = (channel.last_pts - pts) & PTS_MASK
            if step == 0 or back <= LATE_PTS:
                return  # late or duplicate (two keys of one channel during a switch)
            if step <= (MAX_FILL_PACKETS + 1) * FRAME_PTS:
                fill = step // FRAME_PTS - 1
            # else: the origin's clock jumped (its media process restarted, a long outage):
            # the channel's own timeline just goes on, nothing filled
        channel.last_pts = pts
        channel.packets += 1
        channel.filled += fill
        rendition = channel.rendition
        if rendition is not None and rendition.subtitles is not None \
                and rendition.subtitles.want_anchor:  # a segment's first packet: its time
            rendition.subtitles.anchor(sent_at(sent_us),
                                       rendition.position + fill * PACKET_SAMPLES)
        for packet in [SILENCE] * fill + [payload]:
            if channel.rendition is not None:
                try:
                    channel.rendition.add(packet)
                except OSError:
                    log.exception("webcast %s/%s: segment not written",
                                  meeting.config.meeting_id, channel.name)
            if meeting.recording is not None:
                try:
                    meeting.recording.add(channel.name, packet, channel.first_heard)
                except RecordingStopped as exc:
                    log.error("recording of %s stopped: %s (the meeting goes on)",
                              meeting.config.meeting_id, exc)
                    meeting.alerts.append(str(exc))

    def _configure(self, config: MeetingConfig) -> None:
        meeting = self._meetings.get(config.meeting_id)
        if meeting is None or meeting.config.subtitles != config.subtitles or \
                [c for c, _ in meeting.config.keys] != [c for c, _ in config.keys]:
            if meeting is not None:
                self._end(config.meeting_id)
            meeting = self._open(config)
        else:  # an option changed in a live meeting: the other side goes on untouched
            if meeting.config.recording != config.recording:
                self._switch_recording(meeting, config)
            if meeting.config.webcast != config.webcast:
                self._switch_webcast(meeting, config)
        meeting.config = config
        self._reroute()

    def _caption(self, said: Said) -> None:
        meeting = self._meetings.get(said.meeting_id)
        channel = meeting.channels.get(said.channel) if meeting is not None else None
        if channel is not None and channel.rendition is not None \
                and channel.rendition.subtitles is not None:
            channel.rendition.subtitles.caption(said.text, said.start, said.end, said.floor)

    def _switch_recording(self, meeting: _Meeting, config: MeetingConfig) -> None:
        """Recording turned on (a new part, each channel's time 0 at its next packet) or off
        (the part closed as at the room's end)."""
        if meeting.recording is not None:
            meeting.recording.close(time.time())
            meeting.recording = None
        if config.recording:
            start = time.time()
            part = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start))
            try:
                meeting.recording = Recording(self.recordings_dir / config.meeting_id / part,
                                              config.meeting_id, part)
            except OSError as exc:
                log.error("recording of %s not started: %s", config.meeting_id, exc)
                meeting.alerts.append("recording could not start")
            for channel in meeting.channels.values():
                channel.first_heard = 0.0
        log.info("webcast %s: recording %s", config.meeting_id, config.recording)

    def _switch_webcast(self, meeting: _Meeting, config: MeetingConfig) -> None:
        """The webcast turned on (renditions of a new session) or off (playlists ended)."""
        for channel in meeting.channels.values():
            if channel.rendition is not None:
                channel.rendition.end()
        renditions = self._renditions(config, f"{int(time.time() * 1000):x}")
        for name, channel in meeting.channels.items():
            channel.rendition = renditions.get(name)
        log.info("webcast %s: webcast %s", config.meeting_id, config.webcast)

    def _open(self, config: MeetingConfig) -> _Meeting:
        start = time.time()
        renditions = self._renditions(config, f"{int(start * 1000):x}")
        channels = {name: _Channel(name, renditions.get(name)) for name, _ in config.keys}
        recording = None
        if config.recording:
            part = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start))
            try:
                recording = Recording(self.recordings_dir / config.meeting_id / part,
                                      config.meeting_id, part)
            except OSError as exc:
                log.error("recording of %s not started: %s", config.meeting_id, exc)
        meeting = self._meetings[config.meeting_id] = _Meeting(config, channels, recording)
        if recording is None and config.recording:
            meeting.alerts.append("recording could not start")
        log.info("webcast %s: %s channels, webcast %s, recording %s", config.meeting_id,
                 len(channels), config.webcast, config.recording)
        return meeting

    def _renditions(self, config: MeetingConfig, session: str) -> dict[str, Rendition]:
        """Each channel's rendition (with its subtitles when captioned) and the master
        playlist naming them; none when the webcast is off."""
        if not config.webcast:
            return {}
        base = self.webcast_dir / config.meeting_id
        subtitled = [c for c, _ in config.keys if c in config.subtitles]
        renditions = {}
        for name, _ in config.keys:
            rendition = Rendition(base / name, session, self.segment_packets, self.window)
            if name in subtitled:
                rendition.subtitles = SubtitleTrack(base / name, session)
            renditions[name] = rendition
        write_atomic(base / MASTER, master_playlist([c for c, _ in config.keys],
                                                    subtitled=subtitled).encode())
        return renditions

    def _end(self, meeting_id: str) -> None:
        meeting = self._meetings.pop(meeting_id, None)
        if meeting is None:
            return
        for channel in meeting.channels.values():
            if channel.rendition is not None:
                try:
                    channel.rendition.end()
                except OSError:
                    log.exception("webcast %s: playlist not ended", meeting_id)
        if meeting.recording is not None:
            meeting.recording.close(time.time())
        self._reroute()
        self._status.pop(meeting_id, None)

    def _reroute(self) -> None:
        routes: dict[FeedKey, list[tuple[_Meeting, _Channel]]] = {}
        for meeting in self._meetings.values():
            for name, key in meeting.config.keys:
                routes.setdefault(key, []).append((meeting, meeting.channels[name]))
        self._routes = routes

    def _publish_status(self) -> None:
        status = {}
        for mid, m in self._meetings.items():
            rec = m.recording
            status[mid] = MeetingStatus(
                webcast=m.config.webcast,
                recording=rec is not None and rec.stopped is None,
                recording_part=rec.part if rec is not None else None,
                recording_stopped=(rec.stopped if rec is not None and rec.stopped
                                   else (m.alerts[-1] if m.alerts else None)),
                packets={c.name: c.packets for c in m.channels.values()})
        self._status = status


def sent_at(sent_us: int) -> float:
    """When the origin sent a datagram (its header's wall clock, µs mod 2**32), not when this
    thread got to it, which a busy machine delays."""
    late_us = (now_us() - sent_us) & 0xFFFFFFFF
    return time.time() - (late_us / 1e6 if late_us < 10_000_000 else 0.0)
