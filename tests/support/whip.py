"""A WHIP (RFC 9725) and WHEP (IETF draft) client written to the specifications, on aiortc.

What it does is what an encoder or a player does, and nothing that knows MIRP: POST the offer
(`Content-Type: application/sdp`, `Authorization: Bearer`), expect `201 Created` with the answer
and a `Location` (resolved against the endpoint URL: it may be relative), keep the `ETag`;
trickle candidates with PATCH (`application/trickle-ice-sdpfrag`, `If-Match`), end with DELETE
on the resource URL. `trickle=True` takes the candidates out of the offer and sends them by
PATCH instead, as a client that does not wait for gathering would.

    rtc = RtcClient(tone_hz=440)                      # WHIP: a microphone (sendrecv)
    async with httpx.AsyncClient() as http:
        session = await HttpMediaSession.start(http, f"{base}/whip/{mid}", token, rtc)
        ...
        await session.delete()
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from tests.support.rtc import RtcClient

SDP = "application/sdp"
SDPFRAG = "application/trickle-ice-sdpfrag"


class Refused(Exception):
    """The endpoint did not answer 201: the response is kept for the test to check."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} {response.text[:200]}")
        self.response = response


def without_candidates(sdp: str) -> tuple[str, list[str]]:
    """The offer without its candidate lines, and those lines (for PATCH)."""
    kept, candidates = [], []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            candidates.append(line)
        elif line != "a=end-of-candidates":
            kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


def sdpfrag(offer: str, candidates: list[str], end: bool = True) -> str:
    """A trickle-ice-sdpfrag body (RFC 8840): the ICE credentials, the m-line and its mid, then
    the candidates."""
    lines = [ln for ln in offer.splitlines() if ln.startswith(("a=ice-ufrag:", "a=ice-pwd:"))]
    mline = next(ln for ln in offer.splitlines() if ln.startswith("m="))
    mid = next((ln for ln in offer.splitlines() if ln.startswith("a=mid:")), "a=mid:0")
    body = [*lines[:2], mline, mid, *candidates]
    if end:
        body.append("a=end-of-candidates")
    return "\r\n".join(body) + "\r\n"


@dataclass
class HttpMediaSession:
    http: httpx.AsyncClient
    endpoint: str
    token: str
    rtc: RtcClient
    resource: str
    etag: str | None
    links: list[str]

    @classmethod
    async def post(cls, http: httpx.AsyncClient, endpoint: str, token: str | None, body: str,
                   content_type: str = SDP) -> httpx.Response:
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await http.post(endpoint, content=body, headers=headers)

    @classmethod
    async def start(cls, http: httpx.AsyncClient, endpoint: str, token: str, rtc: RtcClient,
                    trickle: bool = False) -> HttpMediaSession:
        offer = await rtc.offer()
        candidates: list[str] = []
        body = offer
        if trickle:
            body, candidates = without_candidates(offer)
        r = await cls.post(http, endpoint, token, body)
        if r.status_code != 201:
            raise Refused(r)
        assert r.headers["content-type"].startswith(SDP), r.headers
        location = r.headers["location"]
        session = cls(http, endpoint, token, rtc, urljoin(endpoint, location),
                      r.headers.get("etag"), r.headers.get_list("link"))
        await rtc.accept_answer(r.text)
        if trickle:
            patched = await session.patch(sdpfrag(offer, candidates))
            assert patched.status_code == 204, patched.text
        return session

    async def patch(self, body: str, *, token: str | None = None,
                    content_type: str = SDPFRAG) -> httpx.Response:
        headers = {"Content-Type": content_type,
                   "Authorization": f"Bearer {token or self.token}"}
        if self.etag is not None:
            headers["If-Match"] = self.etag
        return await self.http.patch(self.resource, content=body, headers=headers)

    async def delete(self, token: str | None = None) -> httpx.Response:
        return await self.http.delete(
            self.resource, headers={"Authorization": f"Bearer {token or self.token}"})
