"""A node's rooms in a cluster, as signaling and the REST API see them (docs/scaling.md).

`ClusterRooms` is what app.py puts on `app.state.rooms` when MIRP_REDIS_URL is set: the
`RoomDoor` Sessions join through (the node's `ClusterDoor`, rooms/placement.py) and the
`LiveRooms` the API calls (api/deps.py). The API's decisions on a live Room (a revoked
invitation, changed booths, a deleted or closed meeting) and the organizer's live overview
concern the meeting's Room, which lives on its origin: on any other node they travel over the Bus
to the origin (`hop.DecisionRequest` on `node.<origin>.decide`) and run there through the
origin's RoomRegistry, exactly as on one process. Node-local reads (the journal, the media
plane, the rooms' read-out) stay local: one node per scrape.

A decision is called after the API's commit, so it must never fail the request: when the origin
cannot be reached (Redis away, the origin dying) it is logged and dropped; admission reads the
database, so nobody the decision shuts out can join again, and a new origin restores the Room
from the database's truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mirp.cluster.bus import Envelope, Kind, Subscription
from mirp.cluster.tasks import end_of
from mirp.errors import InvalidMessage, MirpError, Unavailable
from mirp.rooms import hop
from mirp.rooms.actor import background
from mirp.rooms.door import JoinedRoom, RoomDoor
from mirp.rooms.events import JsonDict
from mirp.rooms.model import JoinGrant, MeetingStatus
from mirp.rooms.placement import ClusterDoor
from mirp.rooms.recorder import JournalHealth
from mirp.rooms.registry import RoomRegistry, RoomsReadout
from mirp.rooms.session import Session

log = logging.getLogger("mirp.rooms.cluster")

START_RETRY_MAX_S = 2.0  # the longest wait between two tries to subscribe while Redis is away


@dataclass(frozen=True, slots=True)
class ClusterReadout:
    """This node's part of the cluster for /readyz and /metrics (numbers of now)."""

    node_id: str
    serving: bool  # its Bus topics are subscribed (false while Redis was away since start)
    node_alive: bool  # its last heartbeat reached the Directory
    bus_live: bool  # its Bus subscriptions are live (false while Redis is away or reconnecting)
    keeper_rounds: int
    leases_held: int  # meetings this node is the origin of, lease proven
    leases_unproven: int  # ... lease no longer proven (Redis away): their stream is held back
    edge_rooms: int  # meetings this node is an edge of (RemoteRoom)
    edge_sessions: int  # Sessions joined through those
    stand_ins: int  # Sessions of other nodes served by this node's origin rooms
    stream_sent: int  # stream messages published by the origin rooms open now (RoomHost.sent)
    stream_dropped: int  # ... not published (lease unproven, Bus away) (RoomHost.dropped)
    # resyncs of the edge rooms open now (RemoteRoom.resyncs: a stream gap, a Bus outage, a
    # subscription cut off, a new epoch)
    resyncs: int
    stale: int  # old-epoch messages the edge rooms dropped (RemoteRoom.stale)
    decisions_forwarded: int  # REST decisions sent to another node's origin
    decisions_served: int  # ... run here for another node
    decisions_lost: int  # ... that could not reach the origin (logged, dropped)

    def leases(self) -> str:
        if self.leases_unproven:
            return "unproven"
        return "held" if self.leases_held else "none"


class ClusterRooms(RoomDoor):
    def __init__(self, registry: RoomRegistry, door: ClusterDoor) -> None:
        self.registry, self.door, self.node = registry, door, door.node
        self._sub: Subscription | None = None
        self._starting: asyncio.Task[None] | None = None
        self._serving: asyncio.Task[None] | None = None
        self.forwarded = self.served = self.lost = 0

    # ---------------------------------------------------------------- life
    def start(self) -> None:
        """Subscribes the node's topics; while Redis is away (at start) it keeps trying in the
        background: the app starts all the same and /readyz says what is missing. The Keeper
        heartbeats once the door listens, so the node is placed only with its relay address."""
        self._starting = asyncio.create_task(self._start(), name="cluster-start")

    async def _start(self) -> None:
        delay, door_started = 0.1, False
        while True:
            try:
                if not door_started:
                    await self.door.start()
                    door_started = True
                    self.node.keeper.start()
                self._sub = await self.node.bus.subscribe(hop.decide_topic(self.node.node_id))
                break
            except Unavailable as exc:
                log.warning("cluster: cannot subscribe yet (%s); trying again", exc.message)
                await asyncio.sleep(delay)  # a back-off between attempts
                delay = min(START_RETRY_MAX_S, delay * 2)
        self._serving = asyncio.create_task(self._serve(self._sub), name="cluster-decide")
        log.info("cluster: node %s serving", self.node.node_id)

    async def close(self) -> None:
        """The node leaves (SIGTERM: the app's shutdown): it drains first (no new joins, its
        meetings handed over, its clients moved: ClusterDoor.drain), then its leases are
        released and its Directory entry removed, then the door and the Bus closed."""
        if self._serving is not None:  # it served: there is something to hand over
            try:
                await self.door.drain()
            except Exception:  # leaving must go on: the leases expire by themselves
                log.exception("cluster: the drain failed")
        for task in (self._starting, self._serving):
            if task is not None:
                task.cancel()
                await end_of(task)
        if self._sub is not None:
            with contextlib.suppress(MirpError):
                await self.node.bus.unsubscribe(self._sub)
        await self.node.keeper.stop(leave=True)
        await self.door.close()
        if self.node.snapshots is not None:
            await self.node.snapshots.aclose()

    # ---------------------------------------------------------------- RoomDoor
    async def authorize(self, token: str, meeting_id: str | None = None) -> JoinGrant:
        return await self.door.authorize(token, meeting_id)

    async def join(
        self, grant: JoinGrant, session: Session, resume: str | None = None
    ) -> JoinedRoom:
        return await self.door.join(grant, session, resume)

    # ---------------------------------------------------------------- LiveRooms: local reads
    def health(self) -> JournalHealth:
        return self.registry.health()

    async def media_check(self) -> JsonDict | None:
        return await self.registry.media_check()

    def readout(self) -> RoomsReadout:
        return self.registry.readout()

    async def media_readout(self) -> dict[str, float]:
        """The registry's media numbers and the relay's (media/relay.py RelayStats): packets
        sent to edges, and as an edge, relayed packets received, lost, late and fenced."""
        numbers = await self.registry.media_readout()
        relay = (await self.registry.media.stats()).relay
        numbers.update({
            "relay_links": relay.links, "relay_feeds_out": relay.feeds_out,
            "relay_packets_out": relay.packets_out, "relay_send_dropped": relay.send_dropped,
            "relay_feeds_in": len(relay.feeds_in),
            "relay_received": sum(f.received for f in relay.feeds_in),
            "relay_lost": sum(f.lost for f in relay.feeds_in),
            "relay_late": sum(f.late for f in relay.feeds_in),
            "relay_fenced": sum(f.fenced for f in relay.feeds_in),
            "relay_hop_p95_ms": relay.hop_p95_ms,
            "relay_source_packets_in": relay.source_packets_in,
        })
        return numbers

    # ---------------------------------------------------------------- LiveRooms: at the origin
    async def live_overview(self, meeting_id: str) -> dict[str, Any] | None:
        value = await self._decide(meeting_id, "overview", {})
        return dict(value) if isinstance(value, Mapping) else None

    async def revoke_invitation(self, meeting_id: str, invitation_id: str) -> list[str]:
        value = await self._decide(meeting_id, "revoke_invitation",
                                   {"invitation_id": invitation_id})
        return [str(p) for p in value or ()]

    async def booths_changed(self, meeting_id: str, booths: Sequence[str]) -> list[str]:
        value = await self._decide(meeting_id, "booths_changed", {"booths": list(booths)})
        return [str(p) for p in value or ()]

    async def meeting_deleted(self, meeting_id: str) -> None:
        await self._decide(meeting_id, "meeting_deleted", {})

    async def options_changed(self, meeting_id: str, webcast: str, recording: bool) -> None:
        await self._decide(meeting_id, "options_changed",
                           {"webcast": webcast, "recording": recording})

    async def meeting_status(self, meeting_id: str, status: str, by: str | None = None) -> None:
        MeetingStatus(status)  # a bad value fails here, in the caller, as on one process
        await self._decide(meeting_id, "meeting_status", {"status": status, "by": by})

    async def _decide(self, meeting_id: str, what: str, args: JsonDict) -> Any:
        """At the meeting's origin: here, or over the Bus. No origin: no Room is live."""
        try:
            holder = await self.node.directory.holder(meeting_id)
        except MirpError as exc:  # Redis away: only a Room open here can be reached
            log.warning("cluster: %s on %s: directory away (%s); local only", what, meeting_id,
                        exc.message)
            holder = None
        if holder is None or holder.node_id == self.node.node_id:
            return await self._run(meeting_id, what, args)
        request = hop.DecisionRequest(meeting_id, what, args)
        env = Envelope(Kind.COMMAND, self.node.node_id, hop.encode(request))
        self.forwarded += 1
        try:
            answer = hop.decode((await self.node.bus.request(
                hop.decide_topic(holder.node_id), env, self.node.request_timeout_s)).body)
        except MirpError as exc:
            self.lost += 1
            log.warning("cluster: %s on %s did not reach its origin %s: %s", what, meeting_id,
                        holder.node_id, exc.message)
            return None
        if isinstance(answer, hop.Failed):
            self.lost += 1
            log.warning("cluster: %s on %s failed at its origin %s: %s", what, meeting_id,
                        holder.node_id, answer.error.message)
            return None
        return answer.value if isinstance(answer, hop.Answered) else None

    async def _run(self, meeting_id: str, what: str, args: JsonDict) -> Any:
        """The decision on this node's RoomRegistry (a no-op when the room is not open here)."""
        rooms = self.registry
        match what:
            case "overview":
                return rooms.overview(meeting_id)
            case "revoke_invitation":
                return await rooms.revoke_invitation(meeting_id, str(args["invitation_id"]))
            case "booths_changed":
                return await rooms.booths_changed(meeting_id, [str(b) for b in args["booths"]])
            case "meeting_deleted":
                return await rooms.meeting_deleted(meeting_id)
            case "options_changed":
                return await rooms.options_changed(meeting_id, str(args["webcast"]),
                                                   bool(args["recording"]))
            case "meeting_status":
                by = args.get("by")
                return await rooms.meeting_status(meeting_id, str(args["status"]),
                                                  None if by is None else str(by))
        raise InvalidMessage(f"unknown decision {what!r}")

    async def _serve(self, sub: Subscription) -> None:
        with contextlib.suppress(MirpError):
            async for env in sub:
                if env.kind is Kind.COMMAND:
                    background(self._answer(env))

    async def _answer(self, env: Envelope) -> None:
        reply: hop.Reply
        try:
            request = hop.decode(env.body)
            if not isinstance(request, hop.DecisionRequest):
                raise InvalidMessage(f"not a decision: {type(request).__name__}")
            reply = hop.Answered(await self._run(request.meeting_id, request.what, request.args))
            self.served += 1
        except MirpError as exc:
            reply = hop.Failed(exc)
        except (KeyError, TypeError, ValueError) as exc:
            reply = hop.Failed(InvalidMessage(f"bad decision: {exc}"))
        with contextlib.suppress(MirpError):  # the asker is gone or the Bus away: it times out
            await self.node.bus.reply(env, Envelope(Kind.REPLY, self.node.node_id,
                                                    hop.encode(reply)))

    # ---------------------------------------------------------------- read-out
    def cluster_readout(self) -> ClusterReadout:
        keeper, hosts, remotes = self.node.keeper, self.door.hosts, self.door.remotes
        states = [keeper.state(m) for m in hosts]
        live_remotes = [r for r in remotes.values() if not r.closed]
        return ClusterReadout(
            node_id=self.node.node_id,
            serving=self._serving is not None,
            node_alive=keeper.node_alive,
            bus_live=self._sub is not None and self._sub.state == "live",  # one connection
            keeper_rounds=keeper.rounds,
            leases_held=states.count("held"),
            leases_unproven=states.count("unproven"),
            edge_rooms=len(live_remotes),
            edge_sessions=sum(len(r) for r in live_remotes),
            stand_ins=sum(len(h.stand_ins) for h in hosts.values()),
            stream_sent=sum(h.sent for h in hosts.values()),
            stream_dropped=sum(h.dropped for h in hosts.values()),
            resyncs=sum(r.resyncs for r in live_remotes),
            stale=sum(r.stale for r in live_remotes),
            decisions_forwarded=self.forwarded,
            decisions_served=self.served,
            decisions_lost=self.lost,
        )
