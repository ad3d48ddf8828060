"""Captions end to end: a real meeting served by the app with the captioner on, espeak-ng
speech played by aiortc peers into the floor (a delegate given the floor) and into a booth (an
interpreter on air); listeners receive `caption` events on their WebSocket, the listeners of a
channel whose booth is off air get the floor's captions marked, and the transcript download
has the sentences in order with times and the floor holder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mirp.captions.wer import wer
from tests.captions.speech import SENTENCES, silence, speech
from tests.integration.conftest import Attendee, Harness
from tests.support.factory import ServedApp, make_meeting, served_app, standard_meeting_body
from tests.support.rtc import RtcClient
from tests.support.wait import Seen, until

pytestmark = pytest.mark.integration
MAX_WER = 0.25
LIVE_ES_WER = 0.6
LEAD_S = 4.0  # silence before the speech: the floor is given / the booth goes on air meanwhile


def voice(language: str) -> np.ndarray:
    parts = [silence(LEAD_S)]
    for sentence in SENTENCES[language]:
        parts += [speech(language, sentence), silence(1.2)]
    return np.concatenate([*parts, silence(60.0)])  # looped: nothing more within the test


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[ServedApp]:
    captions = {"enabled": True, "models": {"en": "tiny.en"}, "default_model": "base"}
    async with served_app(tmp_path, captions=captions,
                          limits={"reconnect_grace_s": 20.0, "heartbeat_s": 10.0}) as s:
        yield s


@pytest.fixture
async def harness(served: ServedApp) -> AsyncIterator[Harness]:
    body = standard_meeting_body(
        languages=["en", "es", "fr"],
        booths=[{"language": "es", "understands": ["en"]},
                {"language": "fr", "understands": ["en"]}])
    body["options"]["captions"] = ["floor", "es", "fr"]
    fx = await make_meeting(served.app, body=body, delegates=3, interpreters={"es": 1, "fr": 1},
                            observer=False)
    h = Harness(served, fx)
    try:
        yield h
    finally:
        await h.close()


async def speaker(h: Harness, key: str, samples: np.ndarray) -> Attendee:
    ws = await h.session(key)
    rtc = RtcClient(samples=samples, name=key)

    async def signal(sdp: str) -> str:
        reply = await ws.request("offer", sdp=sdp)
        assert reply.get("type") == "answer", f"{key}: {reply}"
        return str(reply["sdp"])

    await rtc.connect(signal)
    await rtc.wait_connected(within_s=20.0)
    a = Attendee(key, ws, rtc)
    h.attendees.append(a)
    return a


def captions(a: Attendee, channel: str | None = None) -> list[dict[str, Any]]:
    return [m for m in a.ws.events("caption") if channel is None or m["channel"] == channel]


async def test_floor_and_booth_are_captioned_to_their_listeners(harness: Harness) -> None:
    h = harness
    # the voices start when the captioner listens (its models load in the background)
    await until(lambda: h.app.state.captions.ready.is_set(), "the captioner ready", 300)
    chair = await h.attend("chair", media=False)
    es_listener = await h.attend("delegate2", media=False)
    fr_listener = await h.attend("delegate3", media=False)
    await es_listener.ws.ok("subscribe", channel="es", floor_under=None)
    await fr_listener.ws.ok("subscribe", channel="fr", floor_under=None)  # its booth: off air
    d1 = await speaker(h, "delegate1", voice("en"))
    await chair.ws.ok("floor_give", participant_id=d1.id)
    es1 = await speaker(h, "interpreter_es1", voice("es"))
    await es1.ws.ok("on_air", on=True)

    def texts(a: Attendee, channel: str) -> list[str]:
        return [m["text"] for m in captions(a, channel)]

    def read_right() -> bool | Seen:
        """Both sentences of the floor and of the Spanish booth captioned, however many
        captions they took (a stall of a loaded machine can cut a sentence in two); the voices
        loop only after a minute of silence."""
        floor, spanish = texts(chair, "floor"), texts(es_listener, "es")
        en_wer = wer(" ".join(SENTENCES["en"]), " ".join(floor))
        es_wer = wer(" ".join(SENTENCES["es"]), " ".join(spanish))
        # espeak-ng's Spanish after two Opus generations (the interpreter's, the channel's) is
        # at the edge of Whisper base: 0.06-0.59 measured here, 0.22 on the eight sentences
        # straight from the relay (test_worker.py holds that one to 0.25)
        return ((len(floor) >= 2 and len(spanish) >= 2 and en_wer <= MAX_WER
                 and es_wer <= LIVE_ES_WER)
                or Seen({"floor": (en_wer, floor), "es": (es_wer, spanish)}))

    await until(read_right, "the floor's and the Spanish booth's sentences captioned", 150,
                step=0.2)
    floor, spanish = captions(chair, "floor"), captions(es_listener, "es")
    print(f"caption_wer live: floor en (detected, tiny.en) "
          f"{wer(' '.join(SENTENCES['en']), ' '.join(m['text'] for m in floor)):.3f}, "
          f"es booth (base) "
          f"{wer(' '.join(SENTENCES['es']), ' '.join(m['text'] for m in spanish)):.3f}; "
          f"{[m['text'] for m in floor + spanish]}")
    assert all(m["language"] == "en" and m["final"] and not m["floor"] for m in floor)
    # the French booth is off air: its listener reads the floor's captions, marked; the French
    # feed itself is silent, so it is never captioned
    await until(lambda: texts(fr_listener, "floor")[:len(floor)] == [m["text"] for m in floor]
                or Seen(texts(fr_listener, "floor")), "the floor's captions on French", 30)
    assert all(m["floor"] for m in captions(fr_listener))
    assert captions(es_listener, "floor") == [] and captions(chair, "es") == []

    # the transcript: each channel's sentences in order with times and the floor holder (saved
    # just after the captions went out: polled until it has them)
    client_auth = {"Authorization": f"Bearer {h.meeting.organizer_token}"}
    import httpx

    async with httpx.AsyncClient(base_url=h.served.base_url) as client:
        async def transcript() -> list[dict[str, Any]] | Seen:
            r = await client.get(f"/api/meetings/{h.meeting.meeting_id}/transcript",
                                 headers=client_auth)
            got: list[dict[str, Any]] = r.json()
            have = {c: [x["text"] for x in got if x["channel"] == c] for c in ("floor", "es")}
            return ((have["floor"][:len(floor)] == [m["text"] for m in floor]
                     and have["es"][:len(spanish)] == [m["text"] for m in spanish] and got)
                    or Seen(have))

        lines = await until(transcript, "the captions in the transcript", 30, step=0.2)
        r = await client.get(f"/api/meetings/{h.meeting.meeting_id}/transcript?format=vtt",
                             headers=client_auth)
        vtt = r.text
    by_channel = {c: [x for x in lines if x["channel"] == c] for c in ("floor", "es", "fr")}
    assert by_channel["fr"] == []
    for found in by_channel.values():
        starts = [x["start"] for x in found]
        assert starts == sorted(starts) and all(x["end"] > x["start"] for x in found)
    assert all(x["speakers"] == ["Delegate 1"] for x in by_channel["floor"])
    assert vtt.startswith("WEBVTT") and floor[0]["text"] in vtt
