"""Live captions (issue 15): accuracy, cost and latency of the captioner (mirp/captions/).

`python -m bench.captions [--channels 7] [--window-pad 5] [--beam 5] [--decoders 1] [--all-base]
[--no-write]` runs the real worker process (`python -m mirp.captions.worker`) and sends it, from
an origin `Relay` over UDP paced in real time (one datagram per 20 ms per feed, as the media
plane does), the floor plus `channels - 1` language channels, all speaking at once and almost
without pause (an interpreter speaks nearly all the time): each channel says the eight sentences
of its language (tests/captions/speech.py CORPUS) with 1 s between them, the floor English, the
channels Spanish, French, English in turn. Models as the defaults: English with tiny.en, the
others and the floor (its language detected among en/es/fr) with the multilingual base; `--all-base`
decodes English with base too. It reports:
- `caption_wer`: per language and model, the word error rate of each channel's captions
  against its sentences (mirp/captions/wer.py);
- `caption_latency_p95_s`: from the moment a sentence's last voiced packet is sent to its
  caption's arrival from the worker (the segmenter's hang, the queue, the decode; the
  WebSocket hop after it is a millisecond);
- `caption_rtf`: the worker's CPU seconds per second of speech decoded;
- `caption_cores_for_7_channels`: the worker's CPU seconds (all of it, the backlog's included)
  per wall second of the 7 channels speaking: what keeping up with them costs, in cores;
  `duty` says how much of that time they were speaking.
Prints a table and writes bench/results/captions.json. 2 cores shared with other work: run it
with `nice` and more than once; the latency tail shows the machine's load as well as ours.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from tests.captions.speech import CORPUS, silence, speech
from tests.captions.test_worker import _Origin
from tests.support.audio import opus_packets

from mirp.captions.wer import wer
from mirp.media.plan import FeedKey
from mirp.media.relay import Relay

RESULTS = Path(__file__).parent / "results" / "captions.json"
LANGS = ("es", "fr", "en")
DEFAULT_MODEL = "base"
GAP_S = 1.0  # between two sentences of one voice: past the segmenter's 0.6 s hang, barely
HZ = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def _voice(language: str, lead_s: float) -> tuple[np.ndarray, list[tuple[str, float]], float]:
    """The channel's audio, per sentence (text, end of its voice in seconds), and the seconds
    of speech in it."""
    parts, ends, t, spoken = [silence(lead_s)], [], lead_s, 0.0
    for sentence in CORPUS[language]:
        x = speech(language, sentence)
        voiced = np.nonzero(np.abs(x) > 0.01)[0]
        ends.append((sentence, t + (voiced[-1] + 1) / 48000))
        parts += [x, silence(GAP_S)]
        t += (len(x) + round(GAP_S * 48000)) / 48000
        spoken += len(x) / 48000
    return np.concatenate(parts), ends, spoken


def _start(config: dict[str, Any]) -> tuple[subprocess.Popen[str], tuple[str, int]]:
    proc = subprocess.Popen([sys.executable, "-m", "mirp.captions.worker", json.dumps(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    return proc, (ready["address"][0], int(ready["address"][1]))


def run(channels: int, pad_s: float, beam: int, all_base: bool,
        decoders: int = 1) -> dict[str, Any]:
    models = {} if all_base else {"en": "tiny.en"}
    config = {"host": "127.0.0.1", "models": models, "default_model": DEFAULT_MODEL,
              "window_pad_s": pad_s, "beam_size": beam, "decoders": decoders,
              "cache": str(Path(os.environ.get("MIRP_BENCH_CACHE", "/tmp/mirp-captions-cache")))}
    proc, address = _start(config)
    assert proc.stdin is not None and proc.stdout is not None
    feeds: dict[FeedKey, tuple[str | None, str]] = {FeedKey("b/floor"): (None, "en")}
    for i in range(channels - 1):
        lang = LANGS[i % len(LANGS)]
        feeds[FeedKey(f"b/{lang}{i}")] = (lang, lang)
    keys = [{"key": [k.channel, 0, None], "language": lang, "allowed": sorted(LANGS)}
            for k, (lang, _) in feeds.items()]
    proc.stdin.write(json.dumps({"op": "keys", "keys": keys}) + "\n")
    proc.stdin.flush()
    audio: dict[FeedKey, list[bytes]] = {}
    ends: dict[FeedKey, list[tuple[str, float]]] = {}
    speech_s = 0.0
    for n, (key, (_, spoken)) in enumerate(feeds.items()):
        clip, ends[key], seconds = _voice(spoken, 0.3 + 0.37 * n)  # not all ending at once
        audio[key] = opus_packets(clip)
        speech_s += seconds
    got: list[tuple[float, dict[str, Any]]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            message = json.loads(line)
            if message.get("type") in ("caption", "dropped"):
                got.append((time.time(), message))

    threading.Thread(target=read, daemon=True).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    def send(_address: tuple[str, int], data: bytes) -> None:
        sock.sendto(data, address)

    origin = Relay(_Origin(), send=send)
    origin.relay_to("bench", address, list(feeds), 1)
    ticks = max(len(p) for p in audio.values())
    cpu0, start = _cpu_s(proc.pid), time.time()
    for tick in range(ticks):  # paced in real time, as the media plane sends
        delay = start + tick * 0.02 - time.time()
        if delay > 0:
            time.sleep(delay)
        origin.publish(tick * 960, {k: p[tick] for k, p in audio.items() if tick < len(p)})
    sent_s = time.time() - start
    expected = sum(len(v) for v in ends.values())
    deadline = time.time() + 60
    while len(got) < expected and time.time() < deadline:
        time.sleep(0.05)  # a bench waits for the worker to finish its backlog
    cpu_all = _cpu_s(proc.pid) - cpu0
    proc.stdin.write('{"op": "stop"}\n')
    proc.stdin.flush()
    proc.wait(30)
    sock.close()
    decoded_s = sum(m["end"] - m["start"] for _, m in got if m["type"] == "caption") or 1.0
    rtf = cpu_all / decoded_s
    return _score(feeds, ends, got, start) | {
        "channels": channels, "window_pad_s": pad_s, "beam_size": beam, "decoders": decoders,
        "sent_s": round(sent_s, 1), "expected": expected,
        "duty": round(speech_s / channels / sent_s, 2),
        # the worker's CPU (receiving, Opus, segmenting and decoding) per second of speech
        # decoded, and all the speech sent at that cost per wall second (a dropped utterance
        # counted as if decoded): the cores that keeping up with these channels takes
        "caption_rtf": round(rtf, 3),
        f"caption_cores_for_{channels}_channels": round(rtf * speech_s / sent_s, 2),
        "worker_cpu_s": round(cpu_all, 1), "speech_s": round(speech_s, 1),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def _score(feeds: dict[FeedKey, tuple[str | None, str]],
           ends: dict[FeedKey, list[tuple[str, float]]],
           got: list[tuple[float, dict[str, Any]]], start: float) -> dict[str, Any]:
    """WER per language and model (each feed's captions against its sentences, in order) and
    latency: each caption against the sentence whose end is nearest its own."""
    latencies: list[float] = []
    per: dict[str, list[float]] = {}
    for key, (_, spoken) in feeds.items():
        mine = [(at, m) for at, m in got
                if m["type"] == "caption" and m["key"][0] == key.channel]
        models = sorted({m["model"] for _, m in mine}) or ["-"]
        floor = "floor " if key.channel.endswith("/floor") else ""
        per.setdefault(f"{floor}{spoken}/{'+'.join(models)}", []).append(wer(
            " ".join(s for s, _ in ends[key]), " ".join(m["text"] for _, m in mine)))
        for at, m in mine:
            sent_end = min((start + e for _, e in ends[key]), key=lambda e: abs(e - m["end"]))
            latencies.append(at - sent_end)
    lat = sorted(latencies)
    waits = sorted(m["wait_s"] for _, m in got if m["type"] == "caption")
    decodes = sorted(m["decode_s"] for _, m in got if m["type"] == "caption")
    return {
        "captions": len(lat), "dropped": sum(1 for _, m in got if m["type"] == "dropped"),
        "caption_wer": {k: round(float(np.mean(v)), 3) for k, v in sorted(per.items())},
        "caption_latency_p50_s": round(lat[len(lat) // 2], 2) if lat else None,
        "caption_latency_p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2)
        if lat else None,
        # where the latency goes, besides the segmenter's hang: waiting for the decoder, decoding
        "queue_wait_p50_p95_s": [round(waits[len(waits) // 2], 2),
                                 round(waits[int(0.95 * (len(waits) - 1))], 2)] if waits else None,
        "decode_p50_p95_s": [round(decodes[len(decodes) // 2], 2),
                             round(decodes[int(0.95 * (len(decodes) - 1))], 2)]
        if decodes else None,
    }


def _at_16k(x: np.ndarray) -> np.ndarray:
    import av

    frame = av.AudioFrame.from_ndarray(x[None, :], format="flt", layout="mono")
    frame.sample_rate = 48000
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
    out = [f.to_ndarray().reshape(-1) for f in (*resampler.resample(frame),
                                                *resampler.resample(None))]
    return np.concatenate(out).astype(np.float32)


def decode_cost(pad_s: float, beam: int) -> dict[str, float]:
    """CPU seconds of one decode per second of speech, per language and model, in this process
    (the corpus cut as the segmenter cuts it: 0.2 s before, 0.6 s after): the decode alone, what
    the machine's load changes least (CPU time, not wall time)."""
    from mirp.captions.models import resolve
    from mirp.captions.recognizer import Recognizer

    cache = Path(os.environ.get("MIRP_BENCH_CACHE", "/tmp/mirp-captions-cache"))
    rec = Recognizer({n: resolve(n, cache) for n in ("tiny.en", "base")}, pad_s=pad_s,
                     beam_size=beam)
    out: dict[str, float] = {}
    for language, model in (("en", "tiny.en"), ("en", "base"), ("es", "base"), ("fr", "base")):
        cuts = [np.concatenate([np.zeros(3200, np.float32), _at_16k(speech(language, s)),
                                np.zeros(9600, np.float32)]) for s in CORPUS[language]]
        rec.transcribe(cuts[0], model, language)  # loads the model
        began = time.process_time()
        for cut in cuts:
            rec.transcribe(cut, model, language)
        seconds = sum(c.size for c in cuts) / 16000
        out[f"{language}/{model}"] = round((time.process_time() - began) / seconds, 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=7)
    parser.add_argument("--window-pad", type=float, default=5.0,
                        help="s of silence after an utterance in Whisper's window (0: 30 s)")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--decoders", type=int, default=1, help="utterances decoded at once")
    parser.add_argument("--all-base", action="store_true", help="English with base too")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    r = run(args.channels, args.window_pad, args.beam, args.all_base, args.decoders)
    r["decode_rtf"] = decode_cost(args.window_pad, args.beam)
    if args.window_pad > 0:
        r["decode_rtf_30s_window"] = decode_cost(0.0, args.beam)
    for k, v in r.items():
        print(f"{k:<34}{v}")
    if not args.no_write:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps({
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "cpus": os.cpu_count(), **r}, indent=1, ensure_ascii=False) + "\n")
        print(f"written: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
