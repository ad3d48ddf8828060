"""`python -m bench.restore`: how long a room takes to come back after a kill -9, and whether
any acknowledged record was lost (issue 9's `restart_restore_s` and `records_lost_on_kill`).

A real `mirp serve` (SQLite, in a temporary directory) with one meeting of 50 participants on
the WebSocket (no media): listeners spread over floor, fr, zh and ar, a speakers list of 10, the
floor given, an interpreter on air. The server is killed (SIGKILL) the moment the last command
is acknowledged and started again at once; every client reconnects with its token (retrying
while the port is closed). `restart_restore_s` runs from the kill until every client has a
welcome showing its channel, the floor holder and the speakers list as before. Then
`records_lost_on_kill` counts the acknowledged records (the 50 joins, the listening spans
ended by the channel choices) missing from the organizer's report. Writes
bench/results/restore.json. Takes about a minute.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.integration.conftest import WsClient
from tests.support.factory import MeetingFixture, make_meeting_http
from tests.support.server import Server, ack_then_kill

CLIENTS = 50
CHANNELS = ("floor", "fr", "zh", "ar")
RESULTS = Path(__file__).resolve().parent / "results" / "restore.json"


async def reconnect(srv: Server, token: str, key: str, within: float = 60.0) -> WsClient:
    deadline = time.monotonic() + within
    while True:
        try:
            ws = await WsClient.open(srv.ws, key)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        reply = await ws.hello(token)
        if reply.get("type") == "welcome":
            return ws
        await ws.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{key}: {reply}")
        await asyncio.sleep(0.05)


def view(room: dict[str, Any]) -> tuple[Any, ...]:
    floor = room["floor"]
    return (room["subscription"]["channel"], tuple(floor["holders"]),
            tuple(s["participant_id"] for s in floor["speakers"]))


async def run(size: int = CLIENTS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mirp-restore-") as tmp:
        srv = Server(Path(tmp))
        srv.env["MIRP_LIMITS__RECONNECT_GRACE_S"] = "60"
        await srv.start()
        try:
            async with httpx.AsyncClient(base_url=srv.base, timeout=60) as http:
                fx: MeetingFixture = await make_meeting_http(
                    http, delegates=size - 6, interpreters={"fr": 2, "zh": 1, "ar": 1},
                    observer=True)
            keys = list(fx.people)[:size]
            clients = {k: await reconnect(srv, fx.tokens[k], k) for k in keys}
            delegates = [k for k in keys if k.startswith("delegate")]
            for i, k in enumerate(keys):
                channel = CHANNELS[i % len(CHANNELS)]
                if fx.people[k].role != "interpreter" and channel != "floor":
                    await clients[k].ok("subscribe", channel=channel, floor_under=-18)
            for k in delegates[1:11]:
                await clients[k].ok("floor_request")
            await clients["interpreter_fr1"].ok("on_air", on=True)
            await ack_then_kill(srv, clients["chair"], "floor_give",
                                participant_id=fx.people[delegates[0]].participant_id)
            killed = time.monotonic()
            expected = {}
            for k in keys:  # what each was last told, from its own messages
                sub = clients[k].last("subscribed") or clients[k].welcome["room"]["subscription"]  # type: ignore[index]
                expected[k] = sub["channel"]
            srv.proc = srv.spawn()
            back = await asyncio.gather(*(reconnect(srv, fx.tokens[k], k) for k in keys))
            restored_s = time.monotonic() - killed
            views = {k: view(ws.welcome["room"]) for k, ws in zip(keys, back, strict=True)}  # type: ignore[index]
            holders = {v[1] for v in views.values()}
            speakers = {v[2] for v in views.values()}
            wrong = [k for k in keys if views[k][0] != expected[k]]
            ok = (holders == {(fx.people[delegates[0]].participant_id,)}
                  and speakers == {tuple(fx.people[k].participant_id for k in delegates[1:11])}
                  and not wrong)
            for ws in [*clients.values(), *back]:
                await ws.close()
            lost = await records_lost(srv, fx, keys)
        finally:
            srv.close()
    return {"restart_restore_s": round(restored_s, 2), "restore_state_ok": ok,
            "restore_wrong_channel": wrong, "records_lost_on_kill": lost, "clients": size}


async def records_lost(srv: Server, fx: MeetingFixture, keys: list[str]) -> int:
    """Acknowledged records missing from the report 10 s after the restart."""
    auth = {"Authorization": f"Bearer {fx.organizer_token}"}
    joined = {fx.people[k].participant_id for k in keys}
    deadline = time.monotonic() + 10
    missing = len(joined)
    async with httpx.AsyncClient(headers=auth, timeout=10) as http:
        while time.monotonic() < deadline:
            rep = (await http.get(f"{srv.base}/api/meetings/{fx.meeting_id}/report")).json()
            present = {a["participant_id"] for a in rep["attendance"] if a["joins"] >= 1}
            channels = {c["channel"] for c in rep["listening"]}
            missing = len(joined - present) + len({"floor"} - channels)
            if not missing:
                break
            await asyncio.sleep(0.2)
    return missing


def main() -> int:
    result = asyncio.run(run())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["restore_state_ok"] and result["records_lost_on_kill"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
