"""SDP and ICE-candidate helpers of the Peers: the offer check, candidate parsing, and the
loopback-only candidate filters of the test suite (media/peer.py says why each exists)."""

from __future__ import annotations

from aiortc import sdp as aiortc_sdp
from aiortc.rtcicetransport import RTCIceCandidate

from mirp.errors import InvalidInput, InvalidSdp
from mirp.media.compat import LOOPBACK

MAX_SDP_BYTES = 32 * 1024

def is_loopback_candidate(candidate_sdp: str) -> bool:
    """True for a `candidate:...` line (with or without the prefix) on 127.0.0.1 over UDP."""
    bits = candidate_sdp.removeprefix("a=").removeprefix("candidate:").split()
    return len(bits) >= 8 and bits[4] == LOOPBACK and bits[2].lower() == "udp"


def loopback_only_sdp(sdp: str) -> str:
    """The SDP without its candidate lines that are not UDP on 127.0.0.1 (e.g. `.local` names)."""
    lines = sdp.splitlines()
    kept = [ln for ln in lines if not ln.startswith("a=candidate:") or is_loopback_candidate(ln)]
    return "\r\n".join(kept) + "\r\n"


def parse_candidate(candidate_sdp: str, sdp_mid: str | None,
                    sdp_mline_index: int | None) -> RTCIceCandidate:
    """Parse the browser's `candidate.candidate` string; InvalidInput when malformed."""
    bits = candidate_sdp.removeprefix("a=").removeprefix("candidate:").split()
    if len(bits) < 8 or bits[6] != "typ":
        raise InvalidInput("malformed ICE candidate", {"candidate": candidate_sdp[:200]})
    try:
        candidate = aiortc_sdp.candidate_from_sdp(" ".join(bits))
    except (ValueError, IndexError, AssertionError) as exc:
        raise InvalidInput("malformed ICE candidate", {"candidate": candidate_sdp[:200]}) from exc
    if not 0 < candidate.port < 65536 or candidate.component not in (1, 2):
        raise InvalidInput("malformed ICE candidate", {"candidate": candidate_sdp[:200]})
    candidate.sdpMid = sdp_mid
    candidate.sdpMLineIndex = sdp_mline_index
    return candidate


def check_offer(sdp: str) -> None:
    """InvalidSdp unless the offer is one audio m-line with Opus (then at most two video m-lines
    with VP8: the floor video, and an interpreter's partner video, media/video.py), ICE
    credentials and a DTLS fingerprint, within MAX_SDP_BYTES."""
    if not isinstance(sdp, str) or not sdp.strip():
        raise InvalidSdp("empty offer")
    if len(sdp) > MAX_SDP_BYTES:
        raise InvalidSdp("offer too large", {"max_bytes": MAX_SDP_BYTES})
    try:
        desc = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as exc:
        raise InvalidSdp(f"malformed SDP: {exc}") from exc
    kinds = [m.kind for m in desc.media]
    if kinds not in (["audio"], ["audio", "video"], ["audio", "video", "video"]):
        raise InvalidSdp("the offer must have one audio m-line, then at most two video m-lines",
                         {"media": kinds})
    media = desc.media[0]
    if not any(c.mimeType.lower() == "audio/opus" for c in media.rtp.codecs):
        raise InvalidSdp("the offer has no Opus")
    if any(not any(c.mimeType.lower() == "video/vp8" for c in m.rtp.codecs)
           for m in desc.media[1:]):
        raise InvalidSdp("the offer's video has no VP8")
    if media.ice is None or not media.ice.usernameFragment or media.dtls is None \
            or not media.dtls.fingerprints:
        raise InvalidSdp("the offer lacks ICE credentials or a DTLS fingerprint")


def video_lines(sdp: str) -> int:
    """How many video m-lines the (checked) offer has: 0, 1 (the floor video) or 2 (and the
    partner video)."""
    return sum(1 for line in sdp.splitlines() if line.startswith("m=video "))



def offers_camera(sdp: str) -> bool:
    """The (checked) offer sends video on its first video m-line (`sendrecv` or `sendonly`): the
    participant has a camera the floor video may show; else they take the floor audio only."""
    try:
        desc = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception:
        return False
    video = next((m for m in desc.media if m.kind == "video"), None)
    return video is not None and video.direction in (None, "sendrecv", "sendonly")
