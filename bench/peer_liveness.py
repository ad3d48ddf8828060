"""Peer liveness and admission, measured (not part of `python -m bench`'s run; one-off numbers
for docs/operations.md). Needs 127.0.0.1 only; run from the repository root:

    unshare -n -- bash -c 'ip link set lo up && python -m bench.peer_liveness admission'
    unshare -n -- bash -c 'ip link set lo up && python -m bench.peer_liveness late --run 90'

`admission`: how long a legitimate peer waits for its answer (and to connect) alone, then behind
`--stalled` offers whose clients never start ICE, with the default settings (join_batch 100).
`late`: how long a listener whose STUN answers leave `--delay` seconds late stays connected
(real consent settings). Both use only PeerFactory's public API, so they run on older code too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

import aioice.stun
from tests.support.rtc import RtcClient

from mirp.media.peer import PeerFactory


async def _legit(factory: PeerFactory, name: str) -> tuple[float, float]:
    client = RtcClient(tone_hz=440, name=name)
    offer = await client.offer()
    session = factory.create_peer(name)
    start = time.monotonic()
    answer = await session.accept_offer(offer)
    answered = time.monotonic() - start
    await client.accept_answer(answer)
    await client.wait_connected(60)
    connected = time.monotonic() - start
    await client.close()
    return answered, connected


async def admission(stalled: int) -> None:
    factory = PeerFactory(loopback_only=True)
    answered, connected = await _legit(factory, "alone")
    print(f"alone: answer after {answered * 1000:.0f} ms, "
          f"connected after {connected * 1000:.0f} ms")
    clients = [RtcClient(name=f"s{i}") for i in range(stalled)]
    offers = [await c.offer() for c in clients]
    tasks = [asyncio.ensure_future(factory.create_peer(f"s{i}").accept_offer(offer))
             for i, offer in enumerate(offers)]
    await asyncio.gather(*tasks[:factory.join_batch])  # first come, first answered
    answered, connected = await _legit(factory, "legit")
    print(f"behind {stalled} offers that never do ICE: answer after {answered * 1000:.0f} ms, "
          f"connected after {connected * 1000:.0f} ms")
    for c in clients:
        await c.close()
    await factory.close()


def _delay_answers(client: RtcClient, delay_s: float) -> None:
    loop = asyncio.get_running_loop()
    for protocol in client.transceiver.receiver.transport.transport._connection._protocols:
        original = protocol.send_stun

        def send_stun(message: Any, addr: Any, _orig: Any = original) -> None:
            if message.message_class == aioice.stun.Class.RESPONSE:
                loop.call_later(delay_s, _orig, message, addr)
            else:
                _orig(message, addr)

        protocol.send_stun = send_stun


async def late(delay_s: float, run_s: float) -> None:
    factory = PeerFactory(loopback_only=True)
    session = factory.create_peer("late")
    client = RtcClient(name="late")
    offer = await client.offer()
    _delay_answers(client, delay_s)
    await client.accept_answer(await session.accept_offer(offer))
    await client.wait_connected()
    start = time.monotonic()
    gone: list[tuple[float, str]] = []
    ended = asyncio.Event()

    def on_gone(reason: str) -> None:
        gone.append((time.monotonic() - start, reason))
        ended.set()

    session.on_gone = on_gone
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ended.wait(), run_s)
    if gone:
        print(f"answers {delay_s} s late: dropped after {gone[0][0]:.1f} s ({gone[0][1]})")
    else:
        stats = getattr(getattr(session, "liveness", None), "stats", None)
        print(f"answers {delay_s} s late: still connected after {run_s:.0f} s {stats or ''}")
    await client.close()
    await factory.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["admission", "late"])
    parser.add_argument("--stalled", type=int, default=110)
    parser.add_argument("--delay", type=float, default=0.7)
    parser.add_argument("--run", type=float, default=60.0)
    args = parser.parse_args()
    if args.what == "admission":
        asyncio.run(admission(args.stalled))
    else:
        asyncio.run(late(args.delay, args.run))


if __name__ == "__main__":
    main()
