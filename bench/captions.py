"""Live captions (issue 15): accuracy, cost and latency of the captioner (mirp/captions/).

`python -m bench.captions [--channels 7] [--repeat 1]` runs the real worker process
(`python -m mirp.captions.worker`) and sends it, from an origin `Relay` over UDP paced in real
time (one datagram per 20 ms per feed, as the media plane does), the floor plus `channels - 1`
language channels, each a voice of espeak-ng sentences (tests/captions/speech.py) in English,
Spanish or French, all speaking at once (the worst case: every booth busy while the floor
speaks). Models as the defaults: English with tiny.en, the others and the floor (language
detected) with the multilingual base. It reports:
- `caption_wer`: per language and model, the word error rate of the captions against the
  sentences (mirp/captions/wer.py);
- `caption_latency_p95_s`: from the moment the last voiced packet of a sentence is sent to the
  caption's arrival from the worker (its hang time, the queue, the decode; the WebSocket hop
  after it is a millisecond);
- `caption_rtf`: the worker's CPU seconds per second of captioned speech;
- `caption_cores_for_7_channels`: the worker's CPU while 7 channels speak at once, in cores
  (CPU seconds per wall second), from /proc.
Prints a table and writes bench/results/captions.json. 2 cores shared with other work: the
latency tail shows the machine's load as well as ours.
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
from tests.captions.speech import SENTENCES, silence, speech
from tests.captions.test_worker import _Origin
from tests.support.audio import opus_packets

from mirp.captions.wer import wer
from mirp.media.plan import FeedKey
from mirp.media.relay import Relay

RESULTS = Path(__file__).parent / "results" / "captions.json"
LANGS = ("en", "es", "fr")
MODELS = {"en": "tiny.en"}
DEFAULT_MODEL = "base"
GAP_S = 1.5
HZ = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def _voice(language: str, lead_s: float
           ) -> tuple[np.ndarray, list[tuple[str, float]], float]:
    """The channel's audio, per sentence (text, end of its voice in seconds), and the seconds
    of speech in it."""
    parts, ends, t, spoken = [silence(lead_s)], [], lead_s, 0.0
    for sentence in SENTENCES[language]:
        x = speech(language, sentence)
        voiced = np.nonzero(np.abs(x) > 0.01)[0]
        ends.append((sentence, t + (voiced[-1] + 1) / 48000))
        parts += [x, silence(GAP_S)]
        t += (len(x) + round(GAP_S * 48000)) / 48000
        spoken += len(x) / 48000
    return np.concatenate(parts), ends, spoken


def run(channels: int, repeat: int, decoders: int) -> dict[str, Any]:
    config = {"host": "127.0.0.1", "models": MODELS, "default_model": DEFAULT_MODEL,
              "decoders": decoders,
              "cache": str(Path(os.environ.get("MIRP_BENCH_CACHE", "/tmp/mirp-captions-cache")))}
    proc = subprocess.Popen([sys.executable, "-m", "mirp.captions.worker", json.dumps(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    address = (ready["address"][0], int(ready["address"][1]))
    # the floor speaks English; the channels cycle through the languages
    feeds: dict[FeedKey, tuple[str | None, str]] = {FeedKey("b/floor"): (None, "en")}
    for i in range(channels - 1):
        lang = LANGS[(i + 1) % len(LANGS)]
        feeds[FeedKey(f"b/{lang}{i}")] = (lang, lang)
    keys = [{"key": [k.channel, 0, None], "language": lang, "allowed": list(LANGS)}
            for k, (lang, _) in feeds.items()]
    proc.stdin.write(json.dumps({"op": "keys", "keys": keys}) + "\n")
    proc.stdin.flush()
    audio: dict[FeedKey, list[bytes]] = {}
    ends: dict[FeedKey, list[tuple[str, float]]] = {}
    speech_s = 0.0
    for n, (key, (_, spoken)) in enumerate(feeds.items()):
        clip, marks, seconds = _voice(spoken, 0.5 + 0.1 * n)
        clip = np.concatenate([clip] * repeat)
        period = len(clip) / repeat / 48000
        ends[key] = [(s, e + r * period) for r in range(repeat) for s, e in marks]
        audio[key] = opus_packets(clip)
        speech_s += seconds * repeat
    got: list[tuple[float, dict[str, Any]]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            message = json.loads(line)
            if message.get("type") in ("caption", "dropped"):
                got.append((time.time(), message))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    def send(_address: tuple[str, int], data: bytes) -> None:
        sock.sendto(data, address)

    origin = Relay(_Origin(), send=send)
    origin.relay_to("bench", address, list(feeds), 1)
    ticks = max(len(p) for p in audio.values())
    cpu0, start = _cpu_s(proc.pid), time.time()
    for tick in range(ticks):  # paced in real time, as the media plane sends
        due = start + tick * 0.02
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        origin.publish(tick * 960, {k: p[tick] for k, p in audio.items() if tick < len(p)})
    sent_s = time.time() - start
    cpu_sending = _cpu_s(proc.pid) - cpu0
    expected = sum(len(v) for v in ends.values())
    deadline = time.time() + 60
    while len([g for g in got if g[1]["type"] == "caption"]) < expected and time.time() < deadline:
        time.sleep(0.05)  # a bench waits for the worker to finish its backlog
    cpu_all = _cpu_s(proc.pid) - cpu0
    proc.stdin.write('{"op": "stop"}\n')
    proc.stdin.flush()
    proc.wait(30)
    sock.close()
    # match captions to sentences in order, per feed
    latencies: list[float] = []
    parts: list[tuple[float, float, float, float]] = []  # segmenter end, queue, decode, total
    per: dict[tuple[str, str], list[tuple[str, str]]] = {}
    dropped = sum(1 for _, m in got if m["type"] == "dropped")
    for key, (_, spoken) in feeds.items():
        mine = [(at, m) for at, m in got
                if m["type"] == "caption" and m["key"][0] == key.channel]
        model = mine[0][1]["model"] if mine else MODELS.get(spoken, DEFAULT_MODEL)
        refs = [s for s, _ in ends[key]]
        hyps = [m["text"] for _, m in mine]
        per.setdefault((spoken, model), []).append((" ".join(refs), " ".join(hyps)))
        for (at, m), (_, end_s) in zip(mine, ends[key], strict=False):
            latencies.append(at - (start + end_s))
            parts.append((round(m["end"] - (start + end_s), 2), round(m["wait_s"], 2),
                          round(m["decode_s"], 2), round(latencies[-1], 2)))
    lat = sorted(latencies)
    decoded_s = sum(m["end"] - m["start"] for _, m in got if m["type"] == "caption")
    wers = {f"{lang}/{model}": round(float(np.mean([wer(r, h) for r, h in pairs])), 3)
            for (lang, model), pairs in sorted(per.items())}
    return {
        "channels": channels, "repeat": repeat, "sent_s": round(sent_s, 1),
        "captions": len(latencies), "expected": expected, "dropped": dropped,
        "caption_wer": wers,
        "caption_latency_p50_s": round(lat[len(lat) // 2], 2) if lat else None,
        "caption_latency_p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2)
        if lat else None,
        # CPU per second of the speech decoded (a dropped utterance costs nothing)
        "caption_rtf": round(cpu_all / decoded_s, 3) if decoded_s else None,
        # every channel speaking all the time: the upper bound of the worker's CPU
        f"caption_cores_for_{channels}_channels": round(cpu_all / decoded_s * channels, 2)
        if decoded_s else None,
        "cores_used_while_sending": round(cpu_sending / sent_s, 2),
        "decoders": decoders, "loadavg_1m": round(os.getloadavg()[0], 2),
        "latency_parts": parts,
        "worker_cpu_s": round(cpu_all, 1), "speech_s": round(speech_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="times each voice repeats")
    parser.add_argument("--decoders", type=int, default=1, help="utterances decoded at once")
    args = parser.parse_args(argv)
    r = run(args.channels, args.repeat, args.decoders)
    for k, v in r.items():
        print(f"{k:<34}{v}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                   "cpus": os.cpu_count(), **r}, indent=1) + "\n")
    print(f"written: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
