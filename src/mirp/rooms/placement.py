"""Sessions anywhere: the door of a node in a cluster (docs/cluster-sessions.md).

`ClusterDoor` wraps the node's RoomRegistry and is a RoomDoor like it. A join places the
meeting (`Directory.place`: its live origin, or the least loaded node at the first join); on the
origin the Room is opened here as on one process and served to the edges (rooms/host.py); on any
other node the Session joins a `RemoteRoom` (rooms/remote.py) that forwards to the origin. The
placed node may not have opened the meeting yet: the edge first asks it to (`node.<id>.open`),
and it adopts the lease (Keeper) before it serves.

Media through an edge (with `ClusterNode.relay_host`): at `start` the node's media plane listens
for relayed media there, and `address` is what the app advertises in its NodeInfo; the origin's
RoomHost relays feeds to edges and the edge's RemoteRoom makes the peers on this node's plane
(rooms/edge_plane.py, rooms/edge_media.py); the relay addresses of other nodes come from the
Directory.

Without a cluster the registry is the door, unchanged: this class is used only when a Directory
and a Bus are configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from mirp.cluster.bus import Bus, Envelope, Kind, Subscription
from mirp.cluster.directory import Directory, Lease
from mirp.cluster.keeper import Keeper
from mirp.cluster.snapshots import SharedSnapshots, SnapshotWriter
from mirp.cluster.tasks import end_of
from mirp.errors import Conflict, InvalidMessage, MirpError, Unavailable
from mirp.media.plane import MediaEvent, PeerGone
from mirp.media.relay_format import Address
from mirp.rooms import hop
from mirp.rooms.actor import background
from mirp.rooms.door import JoinedRoom, RoomDoor
from mirp.rooms.edge_media import AddressOf, EdgeMedia, address_parse, address_text
from mirp.rooms.host import RoomHost
from mirp.rooms.model import JoinGrant
from mirp.rooms.registry import RoomRegistry
from mirp.rooms.remote import RemoteRoom
from mirp.rooms.runtime import RoomRuntime
from mirp.rooms.session import Session

log = logging.getLogger("mirp.rooms.placement")


@dataclass(frozen=True)
class ClusterNode:
    """This node's part in the cluster (the app builds it from MIRP_REDIS_URL)."""

    node_id: str
    directory: Directory
    bus: Bus
    keeper: Keeper  # its on_lost should call ClusterDoor.lease_lost
    lease_ttl_s: float
    request_timeout_s: float = 5.0  # an edge's wait for the origin's answer; then Unavailable
    sweep_s: float | None = None  # how often the origin looks for dead edges (None: TTL / 2)
    # the host the media plane listens on for media relayed between nodes (None: no media
    # through edges: an edge answers offers `unavailable`)
    relay_host: str | None = None
    relay_advertise: str | None = None  # the host other nodes reach it at (None: relay_host)
    # where Room snapshots are stored for the node taking a meeting over (None: not shared, a
    # dead origin's Room is lost to the others; cluster/snapshots.py)
    snapshots: SharedSnapshots | None = None
    watch_s: float | None = None  # how often an edge checks its origin's lease (None: TTL / 6)


DRAIN_CLOSE = 1012  # "service restart": the client reconnects, and lands on another node


def _moving(exc: Conflict) -> Unavailable:
    """A placement that did not hold: the client retries (1013), it is not refused (44xx)."""
    return Unavailable(f"the meeting is being placed; try again ({exc.message})",
                       {"reason": "placement", "retry_after_s": 1.0})


class ClusterDoor(RoomDoor):
    def __init__(self, registry: RoomRegistry, node: ClusterNode) -> None:
        self.registry, self.node = registry, node
        self.hosts: dict[str, RoomHost] = {}
        self.remotes: dict[str, RemoteRoom] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._missing: set[str] = set()  # edges absent from the Directory at the last sweep
        self.relay_address: Address | None = None  # this node's, once started
        self._addresses: dict[str, Address] = {}  # other nodes' relay addresses, as last seen
        self._registry_events = registry.media.on_event
        registry.media.on_event = self._on_media_event
        self._watcher: asyncio.Task[None] | None = None
        self.draining = False
        self._store_back_at: float | None = -1e9  # when the store answered again (watch)
        if node.snapshots is not None:  # before the registry's start-up restore task runs
            registry.recorder.shared = SnapshotWriter(node.snapshots, node.keeper.holds)

    @property
    def address(self) -> str:
        """This node's NodeInfo.address: where other nodes relay media to it ("" for none)."""
        if self.relay_address is None:
            return ""
        host, port = self.relay_address
        return address_text((self.node.relay_advertise or host, port))

    async def address_of(self, node_id: str) -> Address | None:
        """A node's relay address from the Directory (looked up again when not known)."""
        if node_id not in self._addresses:
            for info in await self.node.directory.nodes():
                address = address_parse(info.address)
                if address is not None:
                    self._addresses[info.node_id] = address
        return self._addresses.get(node_id)

    def _on_media_event(self, event: MediaEvent) -> None:
        """The plane's events: the registry's rooms, and the peers of this edge's Sessions."""
        if self._registry_events is not None:
            self._registry_events(event)
        if isinstance(event, PeerGone):
            for remote in list(self.remotes.values()):
                remote.peer_gone(event.peer_id, event.reason)

    async def start(self) -> ClusterDoor:
        """Serves this node's `open` requests (edges asking it to be a meeting's origin); with
        a relay host, opens the media plane's relay socket first (`address`)."""
        if self.node.relay_host is not None and self.relay_address is None:
            self.relay_address = await self.registry.media.relay_listen(self.node.relay_host)
        self._sub = await self.node.bus.subscribe(hop.open_topic(self.node.node_id))
        self._task = asyncio.create_task(self._serve(self._sub), name="cluster-door")
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="cluster-door-sweep")
        self._watcher = asyncio.create_task(self._watch_loop(), name="cluster-door-watch")
        return self

    async def authorize(self, token: str, meeting_id: str | None = None) -> JoinGrant:
        return await self.registry.authorize(token, meeting_id)

    async def join(
        self, grant: JoinGrant, session: Session, resume: str | None = None
    ) -> JoinedRoom:
        node = self.node
        if self.draining:
            raise Unavailable("this node is shutting down; try again",
                              {"reason": "draining", "retry_after_s": 1.0})
        try:
            lease = await node.directory.place(grant.meeting_id, node.lease_ttl_s)
        except Conflict as exc:  # no live node: a state that passes, unlike a 44xx close
            raise _moving(exc) from None
        if lease.node_id == node.node_id:
            await self._serve_meeting(lease)
            return await self.registry.join(grant, session, resume)
        remote = await self._remote(lease)
        await self._ask_open(lease)
        await remote.join(grant, session, resume)
        return remote

    # ---------------------------------------------------------------- as the origin
    def _lock(self, meeting_id: str) -> asyncio.Lock:
        return self._locks.setdefault(meeting_id, asyncio.Lock())

    async def _serve_meeting(self, lease: Lease) -> RoomRuntime:
        """This node holds (or adopts) the lease: the room open here and served to edges."""
        keeper, meeting = self.node.keeper, lease.meeting
        async with self._lock(meeting):
            if keeper.holds(meeting) is None:
                try:
                    await keeper.adopt(lease)
                except Conflict as exc:  # lost meanwhile: the next try is placed afresh
                    raise _moving(exc) from None
            runtime = await self.registry.open(meeting)
            host = self.hosts.get(meeting)
            if host is None or host.runtime is not runtime or host.lost is not None:
                host = await RoomHost(runtime, self.node.bus, lambda: keeper.holds(meeting),
                                      on_lost=self._host_lost,
                                      address_of=self._relaying(self.address_of)).start()
                self.hosts[meeting] = host
                background(self._until_closed(host))
            return runtime

    async def _until_closed(self, host: RoomHost) -> None:
        await host.runtime.actor.wait_closed()
        await host.stop()  # the closes it queued reach the edges first
        if self.hosts.get(host.meeting_id) is host:
            del self.hosts[host.meeting_id]

    def _relaying(self, address_of: AddressOf) -> AddressOf | None:
        return address_of if self.relay_address is not None else None

    def lease_lost(self, lease: Lease, error: MirpError) -> None:
        """The Keeper's `on_lost`: the renewal was refused. Another node took the meeting, or
        the store was away past the TTL and the lease expired there: then it is taken again."""
        host = self.hosts.get(lease.meeting)
        if host is not None:
            background(self._reclaim(host, lease, error))

    async def _reclaim(self, host: RoomHost, lease: Lease, error: MirpError) -> None:
        """A lease that expired while Redis was away and that nobody took meanwhile is taken
        again with a newer epoch (edges resync to it): a meeting whose origin kept serving its
        Sessions through an outage is not moved when the store returns. Taken by another node:
        this one is deposed (`_host_lost`)."""
        try:
            if self.draining:
                raise error
            new = await self.node.keeper.acquire(lease.meeting, after=lease.epoch)
        except MirpError:
            host.lease_lost(error)
            return
        log.warning("room %s: lease expired while the store was away: taken again (epoch %d)",
                    lease.meeting, new.epoch)
        runtime = host.runtime
        if not runtime.closing:  # what changed meanwhile, where the next origin can read it
            self.registry.recorder.snapshot(lease.meeting, runtime.room, runtime.seq)

    def _host_lost(self, host: RoomHost, error: MirpError) -> None:
        """The origin is deposed: its own Sessions are closed (they reconnect and are placed
        at the new origin) and the Room suspended as it was; it no longer answers edges."""
        if self.hosts.get(host.meeting_id) is host:
            del self.hosts[host.meeting_id]
        background(host.stop())
        background(host.runtime.suspend("the meeting moved to another node"))

    async def sweep(self) -> list[str]:
        """One look at the Directory: the stand-ins of an edge missing from it twice in a row
        (a live node heartbeats every TTL/3, so a store that lost its data is not mistaken for
        a dead node) end as closed sockets. The participant ids ended."""
        if not self.hosts:
            return []
        try:
            infos = await self.node.directory.nodes()
        except MirpError:
            return []  # the store is away: nobody is judged
        live = {n.node_id for n in infos}
        self._addresses = {n.node_id: a for n in infos
                           if (a := address_parse(n.address)) is not None}  # moved ones too
        edges = {s.node_id for h in self.hosts.values() for s in h.stand_ins.values()}
        missing = edges - live
        gone, self._missing = missing & self._missing, missing
        ended: list[str] = []
        if gone:
            log.warning("edges gone from the directory: %s", sorted(gone))
            for host in list(self.hosts.values()):
                ended += await host.sweep(gone)
        return ended

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.node.sweep_s or self.node.lease_ttl_s / 2)
            try:
                await self.sweep()
            except Exception:  # a bug here must not end the sweeps
                log.exception("cluster door: sweep failed")

    async def _serve(self, sub: Subscription) -> None:
        with contextlib.suppress(MirpError):
            async for env in sub:
                if env.kind is Kind.COMMAND:
                    background(self._answer_open(env))

    async def _answer_open(self, env: Envelope) -> None:
        reply: hop.Reply = hop.Done()
        try:
            request = hop.decode(env.body)
            if not isinstance(request, hop.OpenRequest):
                raise InvalidMessage(f"not an open request: {type(request).__name__}")
            if self.draining:
                raise Unavailable("this node is shutting down", {"reason": "draining"})
            await self._serve_meeting(Lease(request.meeting_id, self.node.node_id,
                                            request.epoch))
        except MirpError as exc:
            reply = hop.Failed(exc)
        with contextlib.suppress(MirpError):
            await self.node.bus.reply(env, Envelope(Kind.REPLY, self.node.node_id,
                                                    hop.encode(reply)))

    # ---------------------------------------------------------------- as an edge
    async def _remote(self, lease: Lease) -> RemoteRoom:
        meeting = lease.meeting
        async with self._lock(meeting):
            remote = self.remotes.get(meeting)
            if remote is None or remote.closed:
                media = None
                if self.relay_address is not None:
                    media = EdgeMedia(self.registry.shared.scope(meeting), self.node.node_id,
                                      self.address_of, origin=lease.node_id,
                                      origin_address=await self.address_of(lease.node_id),
                                      epoch=lease.epoch)
                remote = await RemoteRoom(meeting, self.node.bus, lease.epoch,
                                          timeout_s=self.node.request_timeout_s,
                                          on_empty=self._remote_empty, media=media).start()
                self.remotes[meeting] = remote
            return remote

    async def _ask_open(self, lease: Lease) -> None:
        env = Envelope(Kind.COMMAND, self.node.node_id,
                       hop.encode(hop.OpenRequest(lease.meeting, lease.epoch)))
        answer = hop.decode((await self.node.bus.request(
            hop.open_topic(lease.node_id), env, self.node.request_timeout_s)).body)
        if isinstance(answer, hop.Failed):
            raise answer.error

    def _may_place(self, ok: bool) -> bool:
        """Whether an absent lease may be placed now: not within TTL/2 of the store coming
        back, so that an origin that kept serving through the outage takes its lease again
        first (its Keeper renews every TTL/3: `_reclaim`)."""
        now = asyncio.get_running_loop().time()
        if not ok:
            self._store_back_at = None
        elif self._store_back_at is None:
            self._store_back_at = now
        return self._store_back_at is not None and (
            now - self._store_back_at >= self.node.lease_ttl_s / 2)

    async def watch(self) -> None:
        """One look at the lease of each meeting this node is an edge for. A lease gone (its
        origin died or drained: nobody renews it) is placed again, on the least loaded live
        node, which restores the Room (`_serve_meeting`); a newer origin, placed by us or by
        another edge, is followed at once (the edge resyncs with it, which takes its Sessions
        over: rooms/host.py `_adopt`)."""
        for meeting, remote in list(self.remotes.items()):
            try:
                await self._follow(remote)
            except Unavailable as exc:  # the store away: the next look
                self._may_place(False)
                log.info("room %s: origin not followed yet: %s", meeting, exc.message)
            except MirpError as exc:  # a placement race: the next look
                log.info("room %s: origin not followed yet: %s", meeting, exc.message)

    async def _follow(self, remote: RemoteRoom) -> None:
        directory, node = self.node.directory, self.node
        lease = await directory.holder(remote.meeting_id)
        may_place = self._may_place(True)
        if lease is not None and lease.epoch == remote.epoch:
            return
        if lease is None:
            if not may_place:
                return
            lease = await directory.place(remote.meeting_id, node.lease_ttl_s,
                                          after=remote.epoch)
            log.warning("room %s: origin gone, placed on %s (epoch %d)", remote.meeting_id,
                        lease.node_id, lease.epoch)
        if lease.epoch < remote.epoch:
            return
        if lease.node_id == node.node_id:
            await self._serve_meeting(lease)
        else:
            await self._ask_open(lease)
        remote.follow(lease.epoch)

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.node.watch_s or self.node.lease_ttl_s / 6)
            try:
                await self.watch()
            except Exception:  # a bug here must not end the watch
                log.exception("cluster door: watch failed")

    def _remote_empty(self, remote: RemoteRoom) -> None:
        if self.remotes.get(remote.meeting_id) is remote and not len(remote):
            del self.remotes[remote.meeting_id]
            background(remote.close())

    # ---------------------------------------------------------------- draining
    async def drain(self, reason: str = "this node is shutting down") -> None:
        """A node told to stop (SIGTERM; the app's shutdown calls this before closing the
        registry): no new joins (`Unavailable`, reason `draining`), out of placement, each
        meeting it is origin for handed over (a last snapshot, the lease released and the
        meeting placed on another node, which restores it at once and takes the edges'
        Sessions over), then its own clients closed with 1012: they reconnect and are placed
        elsewhere, within their grace period."""
        self.draining = True
        keeper, node = self.node.keeper, self.node
        with contextlib.suppress(MirpError):
            await keeper.round()  # the leases proven for one more TTL: the hand-over's time
        await keeper.stop(leave=False)
        with contextlib.suppress(MirpError):
            await node.directory.leave(node.node_id)
        for host in list(self.hosts.values()):
            await self._hand_over(host, reason)
        await asyncio.gather(*(r.close_sessions(DRAIN_CLOSE, reason)
                               for r in list(self.remotes.values())))

    async def _hand_over(self, host: RoomHost, reason: str) -> None:
        meeting, runtime = host.meeting_id, host.runtime
        await host.flushed()  # what the edges were sent reaches them
        host.on_lost = None
        host.lease_lost(Unavailable("the origin is draining", {"reason": "draining"}))
        # the stand-ins' closes go nowhere now: the edges keep their Sessions for the next origin
        with contextlib.suppress(MirpError):
            await runtime.call(lambda room, now: runtime.sessions.close_all(DRAIN_CLOSE, reason))
        await runtime.suspend(reason)  # the last snapshot, journal and shared
        shared = self.registry.recorder.shared
        if shared is not None:
            await shared.durable()
        await host.stop()
        self.hosts.pop(meeting, None)
        await self.node.keeper.release(meeting)
        try:  # the next origin restores it now, not when an edge or a client comes looking
            lease = await self.node.directory.place(meeting, self.node.lease_ttl_s)
            await self._ask_open(lease)
        except MirpError as exc:
            log.warning("room %s: not handed over (%s): the next join places it", meeting,
                        exc.message)

    # ---------------------------------------------------------------- closing
    async def close(self) -> None:
        if self._sub is not None:
            await self.node.bus.unsubscribe(self._sub)
        for task in (self._task, self._sweeper, self._watcher):
            if task is not None:
                task.cancel()
                await end_of(task)
        for host in list(self.hosts.values()):
            await host.stop()
        for remote in list(self.remotes.values()):
            await remote.close()
        self.hosts.clear()
        self.remotes.clear()
        if self.registry.recorder.shared is not None:
            await self.registry.recorder.shared.close()
