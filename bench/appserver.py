"""The whole MIRP app in a process of its own, for the end-to-end scenario (bench/e2e.py).

The real create_app() served by uvicorn on 127.0.0.1 (SQLite in a temporary directory, ICE on
loopback), with one open meeting made through the real repository by the test factory
(tests/support/factory.py): a chair, delegates, an interpreter in the fr and ar booths. Prints
`READY {json}` (the WebSocket URL and each person's participant id and token), then answers
JSON-line requests on stdin (`stats`: the engine's counters and this process's CPU; `quit`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import cpu_seconds, dumps, now, pin_to_cpu, raise_fd_limit, rss_kb


async def amain() -> None:
    from tests.support.factory import make_meeting, served_app

    with tempfile.TemporaryDirectory(prefix="mirp-bench-") as tmp:
        async with served_app(Path(tmp)) as served:
            fx = await make_meeting(served.app, delegates=3, interpreters={"fr": 1, "ar": 1},
                                    observer=False)
            info = {
                "ws_url": served.ws_url,
                "people": {k: {"id": p.participant_id, "token": p.token}
                           for k, p in fx.people.items()},
            }
            print("READY " + json.dumps(info), flush=True)
            loop = asyncio.get_running_loop()
            stdin = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
            out = sys.stdout.buffer
            while True:
                line = await stdin.readline()
                if not line:
                    break
                msg = json.loads(line)
                reply: dict[str, Any] = {"rid": msg.get("rid"), "ok": True}
                if msg.get("op") == "stats":
                    stats = await served.app.state.media.stats()
                    reply.update(t=now(), cpu=cpu_seconds(), rss_kb=rss_kb(),
                                 backend=dataclasses.asdict(stats.engine))
                out.write(dumps(reply))
                out.flush()
                if msg.get("op") == "quit":
                    break
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    pin_to_cpu(args.cpu)
    raise_fd_limit()
    asyncio.run(amain())


if __name__ == "__main__":
    main()
