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

from bench.common import answer_stdin, cpu_seconds, now, pin_to_cpu, raise_fd_limit, rss_kb


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

            async def stats() -> dict[str, Any]:
                stats = await served.app.state.media.stats()
                return {"t": now(), "cpu": cpu_seconds(), "rss_kb": rss_kb(),
                        "backend": dataclasses.asdict(stats.engine)}

            await answer_stdin(stats)
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
