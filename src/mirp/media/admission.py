"""The admission gate: at most `slots` peer handshakes do their CPU-costly part at once, the others
wait their turn in arrival order (measured: hundreds of handshakes at once stall the event loop
for minutes, while batches of 100 connected 600 peers in 4.5 s). A slot is a ticket the Peer's
watch gives back as soon as it stops needing it (connected, failed, closed, replaced, or stalled:
see media/watch.py), never held by a handshake that makes no progress; a ticket that leaves the
queue before its turn takes no slot at all."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Literal

TicketState = Literal["queued", "holding", "done"]


class Ticket:
    """One handshake's place: queued, then holding a slot, then done (idempotent)."""

    __slots__ = ("future", "state")

    def __init__(self, future: asyncio.Future[None], state: TicketState) -> None:
        self.future = future
        self.state: TicketState = state

    async def wait(self) -> None:
        """Until the slot is ours; CancelledError if the ticket left the queue meanwhile."""
        await asyncio.shield(self.future)  # cancelling the waiter must not cancel the ticket


class AdmissionGate:
    """FIFO slots. Everything is synchronous except waiting for one's turn, so a slot changes
    hands without a race: `leave` of a holder grants the next ticket in the queue at once."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self.in_use = 0
        self._queue: deque[Ticket] = deque()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def enter(self) -> Ticket:
        """A ticket that holds a slot now if one is free and nobody waits, else queued."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.in_use < self.slots and not self._queue:
            self.in_use += 1
            future.set_result(None)
            return Ticket(future, "holding")
        ticket = Ticket(future, "queued")
        self._queue.append(ticket)
        return ticket

    def position(self, ticket: Ticket) -> int | None:
        """0 = next in line; None = not waiting (holding or done)."""
        try:
            return self._queue.index(ticket)
        except ValueError:
            return None

    def leave(self, ticket: Ticket) -> None:
        """Give the slot back, or leave the queue; the next in line gets the slot at once."""
        if ticket.state == "holding":
            ticket.state = "done"
            self.in_use -= 1
            self._grant()
        elif ticket.state == "queued":
            ticket.state = "done"
            self._queue.remove(ticket)
            ticket.future.cancel()

    def _grant(self) -> None:
        while self._queue and self.in_use < self.slots:
            ticket = self._queue.popleft()
            ticket.state = "holding"
            self.in_use += 1
            ticket.future.set_result(None)
