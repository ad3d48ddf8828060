"""Waiting for a state, the one way the suite does it: poll with a deadline, fail with the last
thing seen. Never sleep a fixed time to let something happen, never assert a duration."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


class Seen:
    """A falsy value that shows what a check saw: `return ok or Seen(state)` makes `until` wait
    for `ok` and, if it times out, print the state (a bare `ok or state` would pass at once)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return repr(self.value)


async def until(
    check: Callable[[], Any],
    what: str | Callable[[], str],
    within: float = 20.0,
    step: float = 0.05,
    *,
    tolerate: tuple[type[BaseException], ...] = (AssertionError,),
) -> Any:
    """Poll `check` (sync or async) until it returns something truthy, and return that.

    An exception of a `tolerate` type counts as "not yet" (e.g. a page in the middle of a
    navigation: pass `tolerate=(Exception,)`). On timeout, fail with `what` (a string, or a
    callable giving one, for a description of the state at that moment) and the last value seen.
    """
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            last = check()
            if inspect.isawaitable(last):
                last = await last
        except tolerate as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise _timed_out(what, within, last)
        await asyncio.sleep(step)


def until_blocking(
    check: Callable[[], Any],
    what: str | Callable[[], str],
    within: float = 20.0,
    step: float = 0.05,
    *,
    tolerate: tuple[type[BaseException], ...] = (AssertionError,),
) -> Any:
    """`until` for code without an event loop (a synchronous fixture starting a server)."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            last = check()
        except tolerate as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise _timed_out(what, within, last)
        time.sleep(step)


def _timed_out(what: str | Callable[[], str], within: float, last: Any) -> AssertionError:
    label = what() if callable(what) else what
    return AssertionError(f"timed out after {within:g} s: {label}; last: {last!r}")
