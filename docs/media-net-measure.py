"""Server CPU per packet per listener: fast fan-out vs public-API fan-out vs encode-per-sender.

Server (this process) measures its own CPU (time.process_time: all threads) over a window with
publishing on, minus the same window with publishing paused. Listeners run in a child process
(aiortc clients whose receivers only count packets: no jitter buffer, no decoding).
usage (from the checkout): PYTHONPATH=. .venv/bin/python docs/media-net-measure.py MODE N
MODE: fast | public | stock.  See docs/media-net.md for the method and the numbers.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sys
import time
from fractions import Fraction
from typing import Any

import av
from tests.support.audio import FRAME, RATE, opus_packets, to_s16, tone

from mirp.media.fanout import Fanout
from mirp.media.compat import loopback_gathering
from mirp.media.peer import PeerFactory
from mirp.media.plan import FeedKey

KEY = FeedKey("floor")
WINDOW = 4.0


def client_main(conn: Any, n: int) -> None:
    from tests.support.rtc import RtcClient

    async def run() -> None:
        clients = []
        for i in range(n):
            c = RtcClient(name=f"c{i}")
            c.count = 0  # type: ignore[attr-defined]

            async def handle(packet: Any, arrival_time_ms: int, c: Any = c) -> None:
                c.count += 1

            c.transceiver.receiver._handle_rtp_packet = handle
            clients.append(c)
        offers = [await c.offer() for c in clients]
        conn.send(offers)
        answers = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        for c, a in zip(clients, answers, strict=True):
            await c.accept_answer(a)
        for c in clients:
            await c.wait_connected(60)
        conn.send("connected")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        conn.send([c.count for c in clients])
        for c in clients:
            await c.close()

    asyncio.run(run())


async def server(mode: str, n: int) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamTrack

    parent, child = mp.Pipe()
    proc = mp.Process(target=client_main, args=(child, n))
    proc.start()
    loop = asyncio.get_running_loop()
    offers = await loop.run_in_executor(None, parent.recv)
    packets = opus_packets(tone(440, 1.0))
    pcm = to_s16(tone(440, 1.0))
    state = {"on": False, "tick": 0}
    tick_future: list[asyncio.Future[None]] = [loop.create_future()]

    class FrameTrack(MediaStreamTrack):
        kind = "audio"

        async def recv(self) -> av.AudioFrame:
            await asyncio.shield(tick_future[0])
            t = state["tick"]
            i = (t * FRAME) % RATE
            frame = av.AudioFrame.from_ndarray(pcm[i:i + FRAME].reshape(1, -1), format="s16",
                                               layout="mono")
            frame.sample_rate = RATE
            frame.pts = t * FRAME
            frame.time_base = Fraction(1, RATE)
            return frame

    fanout = Fanout(fast=(mode == "fast"))
    factory = PeerFactory(loopback_only=True, join_batch=1000, peer_timeout_s=60)
    answers, pcs, senders = [], [], []
    for i, offer in enumerate(offers):
        if mode == "stock":
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pc.addTrack(FrameTrack())
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            with loopback_gathering():
                await pc.setLocalDescription(await pc.createAnswer())
            answers.append(pc.localDescription.sdp)
            pcs.append(pc)
            senders.append(pc.getSenders()[0])
        else:
            s = factory.create_peer(f"l{i}")
            answers.append(await s.accept_offer(offer))
            assert s.sender is not None
            fanout.add(s.peer_id, s.sender, KEY)
            senders.append(s.sender)
    parent.send(answers)

    async def clock() -> None:
        due = loop.time()
        while True:
            if state["on"]:
                t = state["tick"]
                if mode == "stock":
                    fut, tick_future[0] = tick_future[0], loop.create_future()
                    fut.set_result(None)
                else:
                    a = time.thread_time()
                    fanout.publish(t * FRAME, {KEY: packets[t % 50]})
                    state["pub"] = state.get("pub", 0) + time.thread_time() - a
                state["tick"] = t + 1
            due += 0.020
            await asyncio.sleep(max(0.0, due - loop.time()))

    task = asyncio.ensure_future(clock())
    await loop.run_in_executor(None, parent.recv)  # connected
    state["on"] = True
    await asyncio.sleep(2.0)  # warm up
    def sent() -> int:
        return sum(x._RTCRtpSender__packet_count for x in senders)

    state["pub"] = 0
    c0, w0, p0 = time.process_time(), time.monotonic(), sent()
    await asyncio.sleep(WINDOW)
    c1, w1, p1 = time.process_time(), time.monotonic(), sent()
    pub = state["pub"] / max(1, p1 - p0) * 1e6
    ticks0 = state["tick"]
    state["on"] = False
    await asyncio.sleep(0.5)
    c2, w2 = time.process_time(), time.monotonic()
    await asyncio.sleep(WINDOW)
    c3, w3 = time.process_time(), time.monotonic()
    on_rate = (c1 - c0) / (w1 - w0)
    idle_rate = (c3 - c2) / (w3 - w2)
    per_packet = ((c1 - c0) - idle_rate * (w1 - w0)) / max(1, p1 - p0) * 1e6
    rate = (p1 - p0) / (w1 - w0) / n
    parent.send("done")
    counts = await loop.run_in_executor(None, parent.recv)
    task.cancel()
    print(f"mode={mode} n={n} server_cpu_on={on_rate:.3f} idle={idle_rate:.3f} cores "
          f"-> {per_packet:.1f} us/packet/listener (inside publish {pub:.1f}); "
          f"{rate:.1f} pkt/s/listener; ticks={ticks0}; "
          f"client got min {min(counts)} max {max(counts)} packets; stats={fanout.stats()}")
    await factory.close()
    for pc in pcs:
        await pc.close()
    proc.join(30)


if __name__ == "__main__":
    import logging
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mirp").setLevel(logging.INFO)
    asyncio.run(server(sys.argv[1], int(sys.argv[2])))
