"""Optional: sample the server with py-spy at one fan-out step (`python -m bench --profile 400`).

py-spy is not a dependency (`.venv/bin/pip install py-spy`); without it the option only notes
that it is missing. The sampling runs after that step's measuring window, never during it
(`--nonblocking` keeps it from pausing the server, but it still takes CPU on the machine), and
the raw stacks are folded into the functions where the server's time goes, by self time and
inclusive time.
"""

from __future__ import annotations

import asyncio
import collections
import os
import shutil
import sys
import tempfile
from typing import Any


def py_spy() -> str | None:
    here = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return here if os.path.exists(here) else shutil.which("py-spy")


ROOTS = {"run", "<module>", "main", "Runner.run", "BaseEventLoop.run_until_complete",
         "BaseEventLoop.run_forever", "BaseEventLoop._run_once", "Handle._run", "_run_code",
         "_run_module_as_main", "amain"}


def _frame(f: str) -> tuple[str, str]:
    """`Fanout.publish (mirp/media/fanout.py:180)` -> ("Fanout.publish", "media/fanout.py")."""
    name, _, where = f.partition(" (")
    path = where.rsplit(":", 1)[0]
    return name, "/".join(path.split("/")[-2:])


def fold(raw: str, top: int = 20) -> dict[str, Any]:
    """py-spy's raw output (`frame;frame;... count` per line) -> where the time goes.

    Samples waiting in epoll (the loop idle) are counted apart; aiortc's idle decoder threads,
    blocked on their queues, are left out.
    """
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.splitlines():
        stack, _, n = line.rstrip().rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";")]
        if any(name in ("decoder_worker", "Condition.wait") for name, _ in frames):
            continue
        count = int(n)
        total += count
        if frames[-1][0] == "EpollSelector.select":
            idle += count
            continue
        own[f"{frames[-1][0]} ({frames[-1][1]})"] += count
        for name, where in set(frames):
            if name not in ROOTS:
                incl[f"{name} ({where})"] += count

    def pct(c: collections.Counter[str]) -> list[list[Any]]:
        return [[name, round(100.0 * v / total, 1)] for name, v in c.most_common(top)] if total \
            else []

    return {"samples": total, "idle_pct": round(100.0 * idle / total, 1) if total else None,
            "self_pct": pct(own), "inclusive_pct": pct(incl)}


async def sample(pid: int, seconds: float) -> dict[str, Any]:
    exe = py_spy()
    if exe is None:
        return {"error": "py-spy is not installed (.venv/bin/pip install py-spy)"}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "raw.txt")
        proc = await asyncio.create_subprocess_exec(
            exe, "record", "--nonblocking", "-d", str(int(max(1, seconds))), "-r", "200",
            "-f", "raw", "-o", out, "-p", str(pid),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        raw = await asyncio.to_thread(_read, out)
        if proc.returncode != 0 or raw is None:
            return {"error": f"py-spy failed: {err.decode(errors='replace')[-300:]}"}
        return fold(raw)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None
