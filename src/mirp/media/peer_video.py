"""A Peer's video m-lines (media/peer.py): which codecs and directions they are offered, and
what the forwarder (media/video.py) needs to write each one's RTP itself.

Why VP8 and H.264 together: the answer lists codecs in the offer's order, so each browser's
camera sends what it prefers, and every viewer's m-line can take either; the forwarder writes
each packet under the payload type the viewer's m-line gave its codec.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver

from mirp.media import compat
from mirp.media.track import RtpBinding
from mirp.media.video import IdleVideoTrack

FORWARDED = ("video/vp8", "video/h264")  # video codecs forwarded as they come (media/video.py)
VIDEO_CODECS = (*FORWARDED, "video/rtx")  # RTX: aiortc unwraps it before the forwarder's tap


@dataclass(frozen=True, slots=True)
class VideoLine:
    """What the forwarder needs of one video m-line that carries video down to the participant."""

    sender: RTCRtpSender
    binding: RtpBinding
    payload_types: dict[str, int] = field(default_factory=dict)  # mime -> payload type


def add_video(pc: RTCPeerConnection, direction: str) -> RTCRtpTransceiver:
    """A video transceiver (VP8, H.264 in packetization mode 1, their RTX), `inactive`
    without the `video_forward` fast path. aiortc gives the offer's video m-lines to video
    transceivers in the order they were added."""
    forward = compat.enabled("video_forward")
    video = pc.addTransceiver(IdleVideoTrack(), direction=direction if forward else "inactive")
    video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                               if c.mimeType.lower() in VIDEO_CODECS])
    return video


def bind_video(video: RTCRtpTransceiver) -> VideoLine | None:
    """The negotiated m-line as the forwarder writes it; None when the participant receives no
    video on it (inactive, or they offered sendonly)."""
    codec = compat.negotiated_codec(video)
    if codec is None or codec[0].lower() not in FORWARDED or video.currentDirection is None \
            or "send" not in video.currentDirection:
        return None
    return VideoLine(video.sender, RtpBinding(payload_type=codec[1], mid=video.mid,
                                              extension=compat.mid_extension(video)),
                     compat.payload_types(video))
