"""CPU work off the control loop: one small process pool per server process.

Why processes and not threads: signing thousands of tokens, parsing a large CSV and rendering a
large JSON answer are Python code that holds the GIL. In a thread they still stop the event
loop (and, on a single-process server, every meeting's media clock with it) for seconds; in a
process they only cost a core. The pool is small (MIRP_CPU_WORKERS, default 2) so that a storm
of logins or uploads queues for it instead of taking every core from the media plane.

The lifespan opens the pool (`async with work.pool(n)`) and closes it at shutdown; several apps
in one process (tests) share one pool, closed by the last. Without an open pool (the CLI, store
tests) `run` uses a thread, which is correct, only not isolated.

Workers are started with `spawn` (never `fork`): the server process has threads (aiortc, the
database driver), and forking a threaded process can leave a lock held forever in the child.
A worker imports only what its function's module imports (see store/cpu.py, kept light).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from mirp.errors import MirpError, Unavailable

log = logging.getLogger("mirp.store.work")
T = TypeVar("T")

_executor: ProcessPoolExecutor | None = None
_processes = 0
_users = 0


@dataclass(frozen=True, slots=True)
class _Failure:
    """A typed error raised in a worker. MirpError pickles without its details (Exception keeps
    only args), so it crosses the process boundary as this and is raised again here."""

    kind: type[MirpError]
    message: str
    details: dict[str, Any]


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except MirpError as exc:
        return _Failure(type(exc), exc.message, exc.details)


def _warm() -> None:
    """Imports the worker side once, so the first real job does not pay for it."""
    from mirp.store import bulk, passwords  # noqa: F401


def _new_executor(processes: int) -> ProcessPoolExecutor:
    executor = ProcessPoolExecutor(max_workers=processes,
                                   mp_context=multiprocessing.get_context("spawn"))
    for _ in range(processes):
        executor.submit(_warm)
    return executor


@asynccontextmanager
async def pool(processes: int) -> AsyncIterator[None]:
    """Open the shared pool (or join it when open) for the time of the block."""
    global _executor, _processes, _users
    if processes > 0 and _executor is None:
        _executor, _processes = _new_executor(processes), processes
    _users += 1
    try:
        yield
    finally:
        _users -= 1
        if _users == 0 and _executor is not None:
            executor, _executor = _executor, None
            # off the loop: joining worker processes blocks
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)


def _replace(broken: ProcessPoolExecutor) -> None:
    global _executor
    if _executor is broken:
        _executor = _new_executor(_processes)
        broken.shutdown(wait=False, cancel_futures=True)


def pooled() -> bool:
    """True while a process pool is open (tests check that CPU work leaves the loop)."""
    return _executor is not None


async def run(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in the pool (a thread without one). `fn` must be a module-level function,
    its arguments and result picklable. MirpErrors it raises are raised here, details intact."""
    executor = _executor
    if executor is None:
        result = await asyncio.to_thread(_call, fn, *args)
    else:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(executor, functools.partial(_call, fn, *args))
        except BrokenProcessPool as exc:
            # a worker died (killed, out of memory): this pool cannot be used again, so the
            # next call gets a new one; this call may be retried
            log.error("the worker pool is broken, starting a new one: %s", exc)
            _replace(executor)
            raise Unavailable("the server's worker pool failed; try again") from exc
    if isinstance(result, _Failure):
        raise result.kind(result.message, result.details)
    return result  # type: ignore[no-any-return]
