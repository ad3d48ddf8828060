"""The actor under a RoomRuntime: one task that owns a state and runs every change to it.

Why an actor: a Room and its runtime are changed only in this task, so rooms/ needs no locks and
no change can interleave with the awaits of another (a decision waiting for the database, a join
waiting for the journal). What reaches the task comes by three lanes:
- `call` / `call_async` / `submit_nowait`: a bounded queue, each job with a future for its reply.
  A flood of commands meets a typed Unavailable instead of growing memory.
- `notify(key, job)`: what must not be lost (the media plane's reports: a peer gone, levels;
  a server shutdown). It is never refused; a newer job of the same key replaces an older one not
  yet run, so the lane is bounded by the number of keys (a room's peers, plus one for levels),
  not by traffic. `call_anyway` is `call` by this lane, for a decision already committed
  elsewhere (REST) that must reach the room: bounded by the requests waiting for it.
- `at(key, when, job)`: the actor's own timers (a snapshot due, a re-offer deadline), run in the
  task when due, beside the state's own deadline (`next_deadline`) and `tick`.
Nothing else (no loop callback, no other task) touches the state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from mirp.errors import MirpError, Unavailable

log = logging.getLogger("mirp.rooms.actor")

S = TypeVar("S")
T = TypeVar("T")
_T1 = TypeVar("_T1")
_T2 = TypeVar("_T2")
Job = Callable[[S, float], T]  # a change, given the state and the time (the actor's clock)
_Step = Callable[[S, float], Awaitable[None]]  # a queued job, its future settled inside
# a timer tick that did not move the deadline: wait at least this long (no spinning)
MIN_REWAIT_S = 0.01


class RoomClosing(Unavailable):
    """The room's actor is closing or closed (idle, meeting closed, server shutdown): the
    caller retries elsewhere (the registry opens a fresh room)."""


_background: set[asyncio.Future[object]] = set()


def background(coro: Awaitable[object]) -> None:
    """Run a clean-up coroutine without awaiting it, keeping a reference until it ends."""
    fut: asyncio.Future[object] = asyncio.ensure_future(coro)
    _background.add(fut)
    fut.add_done_callback(_background.discard)


def _fail(fut: asyncio.Future[T], exc: BaseException, name: str) -> None:
    if isinstance(exc, MirpError):
        fut.set_exception(exc)
    else:
        log.error("%s: job failed", name, exc_info=exc)
        fut.set_exception(MirpError(f"internal error: {type(exc).__name__}"))


async def _first(
    a: asyncio.Future[_T1], b: asyncio.Future[_T2], within_s: float | None
) -> set[asyncio.Future[_T1] | asyncio.Future[_T2]]:
    """Whichever of `a` and `b` is done within `within_s` (neither: empty)."""
    done, _ = await asyncio.wait((a, b), timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    return done


class _Once:
    """A key no other job has: a `call_anyway` job is never replaced."""

    __slots__ = ()


def _refuse(fut: asyncio.Future[T], exc: MirpError) -> None:
    if not fut.done():
        fut.set_exception(exc)


class Actor(Generic[S]):
    def __init__(
        self,
        state: S,
        *,
        name: str,
        queue_size: int,
        clock: Callable[[], float],
        next_deadline: Callable[[S], float | None],
        tick: Callable[[S, float], None],
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        self.state = state
        self.name = name
        self.clock = clock
        self._next_deadline = next_deadline
        self._tick = tick
        self._on_closed = on_closed
        self._queue: asyncio.Queue[tuple[_Step[S], Callable[[MirpError], None]]] = (
            asyncio.Queue(queue_size))
        # key -> (job, how to refuse its caller should the actor close first)
        self._notes: dict[Hashable, tuple[Job[S, None], Callable[[MirpError], None] | None]] = {}
        self._noted = asyncio.Event()
        self._timers: dict[Hashable, tuple[float, Job[S, None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self.closing = False  # set in the task (`stop`); read by anyone
        self.handled = 0  # jobs of the bounded lane run, and refused for a full queue (/metrics)
        self.refused = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    @property
    def started(self) -> bool:
        return self._task is not None

    def stop(self) -> None:
        """In the task: the current job is the last one; what is queued is refused."""
        self.closing = True

    async def wait_closed(self) -> None:
        if self._task is not None:
            await self._closed.wait()

    # ---------------------------------------------------------------- the bounded lane
    def _put(self, step: _Step[S], refuse: Callable[[MirpError], None]) -> None:
        if self.closing:
            raise RoomClosing("the room is closing")
        try:
            self._queue.put_nowait((step, refuse))
        except asyncio.QueueFull:
            self.refused += 1
            raise Unavailable("the room is busy; try again") from None

    def _answering(self, fut: asyncio.Future[T], fn: Job[S, T]) -> Job[S, None]:
        """`fn` as a job that answers `fut` with its result or error (unless the caller gave
        up waiting)."""

        def job(state: S, now: float) -> None:
            if fut.cancelled():
                return
            try:
                result = fn(state, now)
            except Exception as exc:
                _fail(fut, exc, self.name)
            else:
                fut.set_result(result)

        return job

    async def call(self, fn: Job[S, T]) -> T:
        """Run `fn(state, now)` in the task and return its result (or raise its error)."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        job = self._answering(fut, fn)

        async def step(state: S, now: float) -> None:
            job(state, now)

        self._put(step, lambda exc: _refuse(fut, exc))
        return await fut

    async def call_async(self, fn: Job[S, Awaitable[T]]) -> T:
        """Like `call` for a job that awaits (durability): the task waits for it, so the
        state's order is kept; other actors have their own tasks and are not delayed."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        async def step(state: S, now: float) -> None:
            if fut.cancelled():
                return
            try:
                result = await fn(state, now)
            except Exception as exc:
                _fail(fut, exc, self.name)
            else:
                fut.set_result(result)

        self._put(step, lambda exc: _refuse(fut, exc))
        return await fut

    def submit_nowait(self, fn: Job[S, object]) -> bool:
        """Queue a job nobody waits for; False (dropped) when the queue is full or closing."""

        async def step(state: S, now: float) -> None:
            try:
                fn(state, now)
            except Exception:
                log.exception("%s: job failed", self.name)

        try:
            self._put(step, lambda exc: None)
        except Unavailable:
            return False
        return True

    # ---------------------------------------------------------------- the lanes never refused
    def notify(self, key: Hashable, fn: Job[S, None]) -> None:
        """Run `fn` in the task soon, even when the queue is full; replaces a job of the same
        key not yet run (the newest report is the one that counts)."""
        if self.closing:
            return
        self._notes[key] = (fn, None)
        self._noted.set()

    async def call_anyway(self, fn: Job[S, T]) -> T:
        """`call` by the lane that is never refused for a full queue (RoomClosing still is)."""
        if self.closing:
            raise RoomClosing("the room is closing")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._notes[_Once()] = (self._answering(fut, fn), lambda exc: _refuse(fut, exc))
        self._noted.set()
        return await fut

    @property
    def depth(self) -> int:
        """Jobs waiting in the bounded lane."""
        return self._queue.qsize()

    @property
    def reports(self) -> int:
        """Jobs waiting in the lane that is never refused."""
        return len(self._notes)

    def at(self, key: Hashable, when: float, fn: Job[S, None]) -> None:
        """In the task (or before start): run `fn` at `when` (the actor's clock), replacing a
        timer of the same key."""
        self._timers[key] = (when, fn)

    def cancel(self, key: Hashable) -> None:
        self._timers.pop(key, None)

    def timer(self, key: Hashable) -> float | None:
        entry = self._timers.get(key)
        return None if entry is None else entry[0]

    # ---------------------------------------------------------------- the task
    def _deadline(self) -> float | None:
        deadline = self._next_deadline(self.state)
        for when, _ in self._timers.values():
            deadline = when if deadline is None else min(deadline, when)
        return deadline

    def _run_guarded(self, fn: Job[S, None], now: float, what: str) -> None:
        try:
            fn(self.state, now)
        except Exception:
            log.exception("%s: %s failed", self.name, what)

    def _run_notes(self, now: float) -> None:
        while self._notes and not self.closing:
            key = next(iter(self._notes))
            fn, _ = self._notes.pop(key)
            self._run_guarded(fn, now, "report")

    def _run_timers(self, now: float) -> None:
        for key, (when, fn) in list(self._timers.items()):
            if self.closing:
                return
            if when <= now and self._timers.get(key) == (when, fn):
                del self._timers[key]
                self._run_guarded(fn, now, "timer")
        if not self.closing:
            self._run_guarded(self._tick, now, "tick")

    async def _wait_noted(self) -> object:
        return await self._noted.wait()

    async def _run(self) -> None:
        getter: asyncio.Future[tuple[_Step[S], Callable[[MirpError], None]]] | None = None
        waiter: asyncio.Future[object] | None = None
        min_wait = 0.0
        try:
            while not self.closing:
                deadline = self._deadline()
                if getter is None:
                    getter = asyncio.ensure_future(self._queue.get())
                if waiter is None:
                    waiter = asyncio.ensure_future(self._wait_noted())
                timeout = None if deadline is None else max(min_wait, deadline - self.clock())
                done = await _first(getter, waiter, timeout)
                now = self.clock()
                if not done:
                    self._run_timers(now)
                    # a deadline the tick did not move must not make the task spin
                    min_wait = MIN_REWAIT_S if self._deadline() == deadline else 0.0
                    continue
                min_wait = 0.0
                if getter in done:
                    step, _ = getter.result()
                    getter = None
                    self.handled += 1
                    await step(self.state, now)
                if waiter in done:
                    waiter = None
                    self._noted.clear()
                    self._run_notes(self.clock())
                now = self.clock()
                if deadline is not None and now >= deadline + MIN_REWAIT_S and not self.closing:
                    self._run_timers(now)  # overdue under a steady stream of jobs: not starved
        except asyncio.CancelledError:
            pass
        finally:
            for pending in (getter, waiter):
                if pending is not None:
                    pending.cancel()
            self.closing = True
            for _, refuse in self._notes.values():
                if refuse is not None:
                    refuse(RoomClosing("the room closed"))
            self._notes.clear()
            self._timers.clear()
            while not self._queue.empty():  # refuse what is left: the caller retries elsewhere
                _, refuse = self._queue.get_nowait()
                refuse(RoomClosing("the room closed"))
            self._closed.set()
            if self._on_closed is not None:
                self._on_closed()
