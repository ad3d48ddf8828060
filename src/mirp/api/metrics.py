"""/metrics: this process's numbers in the Prometheus text format (docs/operations.md, "Metrics").

Everything is read at scrape time, nothing is kept here: the rooms' read-out (rooms, Sessions,
queue depth, commands, listeners per channel), what signaling and the HTTP middleware counted
(mirp/metrics.py's Tally), the journal, the database pool, the process (CPU, memory, files),
the media plane's counters, and in a cluster this node's part (leases, edge rooms, the stream,
resyncs, forwarded decisions, the relay between nodes). The media plane is another process: it
is asked with a short timeout, and a scrape never waits longer; when it does not answer,
`mirp_media_up` is 0 and its families are left out (Prometheus then marks them stale rather
than showing stale numbers).

Labels never carry a meeting id (unbounded): listeners are per channel (a language), summed over
the meetings of the process; a meeting's own numbers are on its live page (`/api/.../live`).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Iterable, Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from mirp.api.deps import AppSettings, AppTally, Cluster, Rooms, StartedDb
from mirp.config import Settings
from mirp.errors import Forbidden, NotFound, Unauthorized
from mirp.metrics import Tally
from mirp.rooms.cluster_rooms import ClusterReadout
from mirp.rooms.registry import RoomsReadout

log = logging.getLogger("mirp.api.metrics")
router = APIRouter(tags=["metrics"])

MEDIA_TIMEOUT_S = 1.0  # the media plane's answer; past it the scrape goes on without it

# EngineStats' numbers (rooms' media_readout) as exported: name -> (family, kind, help)
MEDIA: dict[str, tuple[str, str, str]] = {
    "sources": ("mirp_media_sources", "gauge", "Microphones added to the engine and alive"),
    "decoding": ("mirp_media_sources_decoding", "gauge", "Sources the current plan decodes"),
    "feeds": ("mirp_media_feeds", "gauge", "Feeds (mixes) in the current plan"),
    "feeds_in_use": ("mirp_media_feeds_in_use", "gauge", "Feeds with listeners"),
    "encoders": ("mirp_media_encoders", "gauge", "Live Opus encoders"),
    "listeners": ("mirp_media_listeners", "gauge", "Listeners bound to a feed"),
    "peers": ("mirp_media_peers", "gauge", "WebRTC peer connections open"),
    "lateness_p50_ms": ("mirp_media_tick_lateness_p50_ms", "gauge",
                        "Median lateness of the 20 ms tick, last minute (ms)"),
    "lateness_p99_ms": ("mirp_media_tick_lateness_p99_ms", "gauge",
                        "99th percentile lateness of the tick, last minute (ms)"),
    "lateness_max_ms": ("mirp_media_tick_lateness_max_ms", "gauge",
                        "Largest lateness of the tick, last minute (ms)"),
    "work_us_avg": ("mirp_media_tick_work_avg_us", "gauge",
                    "Mean CPU time of one tick's mix and encode (us)"),
    "work_us_max": ("mirp_media_tick_work_max_us", "gauge",
                    "Largest CPU time of one tick's mix and encode (us)"),
    "hold_ms": ("mirp_media_jitter_hold_ms", "gauge",
                "Mean time a packet waits in the jitter buffers (ms)"),
    "ticks": ("mirp_media_ticks", "counter", "Ticks run by the media engine"),
    "late_ticks": ("mirp_media_ticks_late", "counter", "Ticks started over one tick late"),
    "skipped_ticks": ("mirp_media_ticks_skipped", "counter",
                      "Ticks given up to catch up with the clock"),
    "packets_skipped": ("mirp_media_packets_skipped", "counter",
                        "Listener packets never sent because their tick was skipped"),
    "packets_sent": ("mirp_media_packets_sent", "counter",
                     "Listener packets sent (one per listener per tick)"),
    "packets_dropped": ("mirp_media_packets_dropped", "counter",
                        "Listener packets dropped on a full socket backlog"),
    "packets_received": ("mirp_media_packets_received", "counter", "RTP packets received"),
    "packets_lost": ("mirp_media_packets_lost", "counter", "RTP packets lost on the way in"),
    "packets_late": ("mirp_media_packets_late", "counter", "RTP packets that came too late"),
    "concealed": ("mirp_media_packets_concealed", "counter", "Packets concealed by the decoder"),
    "feed_failures": ("mirp_media_feed_failures", "counter", "Feeds that failed to mix/encode"),
    "sources_dropped": ("mirp_media_sources_dropped", "counter",
                        "Failed or ended sources removed by the engine"),
    "restarts": ("mirp_media_restarts", "counter", "Media processes started after the first"),
    # a node of a cluster (rooms/cluster_rooms.py): the relay between nodes (media/relay.py)
    "relay_links": ("mirp_relay_links", "gauge", "Edges this origin relays feeds to"),
    "relay_feeds_out": ("mirp_relay_feeds_out", "gauge", "Feeds this origin relays out"),
    "relay_packets_out": ("mirp_relay_packets_sent", "counter",
                          "Relay datagrams sent to edges (one per packet per edge)"),
    "relay_send_dropped": ("mirp_relay_send_dropped", "counter",
                           "Relay datagrams the kernel refused"),
    "relay_feeds_in": ("mirp_relay_feeds_in", "gauge", "Relayed feeds this edge receives"),
    "relay_received": ("mirp_relay_packets_received", "counter",
                       "Relayed packets handed to this edge's fan-out"),
    "relay_lost": ("mirp_relay_packets_lost", "counter", "Relayed packets lost (sequence gaps)"),
    "relay_late": ("mirp_relay_packets_late", "counter", "Relayed packets late or duplicated"),
    "relay_fenced": ("mirp_relay_packets_fenced", "counter",
                     "Relayed packets of a deposed origin (older epoch), dropped"),
    "relay_hop_p95_ms": ("mirp_relay_hop_p95_ms", "gauge",
                         "95th percentile of the hop origin -> edge, recent packets (ms)"),
    "relay_source_packets_in": ("mirp_relay_source_packets_received", "counter",
                                "Microphone packets received from edges (as an origin)"),
}


def allowed(request: Request, settings: Settings) -> None:
    """Raise unless this request may read /metrics (settings `metrics`, `metrics_token`)."""
    if settings.metrics == "off":
        raise NotFound("metrics are off (MIRP_METRICS)")
    if settings.metrics == "loopback":
        host = request.client.host if request.client is not None else ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise Forbidden("metrics are served to this machine only (MIRP_METRICS=loopback)")
        return
    if not settings.metrics_token:
        raise Forbidden("MIRP_METRICS=token but MIRP_METRICS_TOKEN is not set")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), settings.metrics_token.encode()
    ):
        raise Unauthorized("metrics need Authorization: Bearer <MIRP_METRICS_TOKEN>")


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _rooms(r: RoomsReadout) -> Iterator[Metric]:
    yield _gauge("mirp_rooms_open", "Rooms open in this process", r.rooms)
    yield _gauge("mirp_sessions_open", "Sessions joined to a room", r.sessions)
    yield _gauge("mirp_room_queue_depth_max", "Commands waiting in the fullest room's queue",
                 r.queue_depth_max)
    yield _gauge("mirp_room_queue_depth_sum", "Commands waiting in all rooms' queues",
                 r.queue_depth_sum)
    commands = CounterMetricFamily("mirp_room_commands", "Room commands by outcome",
                                   labels=["outcome"])
    commands.add_metric(["handled"], r.commands_handled)
    commands.add_metric(["refused"], r.commands_refused)  # the queue was full
    yield commands
    listeners = GaugeMetricFamily(
        "mirp_listeners", "Connected participants per channel, summed over meetings",
        labels=["channel"])
    for channel, n in sorted(r.listeners.items()):
        listeners.add_metric([channel], n)
    yield listeners


def _tally(t: Tally) -> Iterator[Metric]:
    yield _gauge("mirp_websockets_open", "WebSocket connections open (joined or not)",
                 t.websockets_open)
    yield _counter("mirp_joins", "Hellos that joined a room", t.joins)
    failures = CounterMetricFamily(
        "mirp_join_failures", "Sessions ended before joining: error code, close code, reason",
        labels=["code", "close", "reason"])
    for (code, close, reason), n in sorted(t.join_failures.items()):
        failures.add_metric([code, str(close), reason], n)
    yield failures
    http = CounterMetricFamily("mirp_http_requests", "HTTP requests by route template and status",
                               labels=["method", "route", "status"])
    for (method, route, status), n in sorted(t.http.items()):
        http.add_metric([method, route, str(status)], n)
    yield http


def _cluster(c: ClusterReadout) -> Iterator[Metric]:
    """This node's part of the cluster; no node label: one node per scrape."""
    yield _gauge("mirp_cluster_serving", "The node's Bus topics are subscribed (1) or not yet",
                 int(c.serving))
    yield _gauge("mirp_cluster_node_alive", "The node's last heartbeat reached Redis (1) or not",
                 int(c.node_alive))
    yield _gauge("mirp_cluster_bus_live", "The node's Bus subscriptions are live (1) or "
                 "reconnecting (0)", int(c.bus_live))
    yield _counter("mirp_cluster_keeper_rounds", "Heartbeat and lease renewal rounds",
                   c.keeper_rounds)
    leases = GaugeMetricFamily("mirp_cluster_leases", "Meetings this node is the origin of, "
                               "by lease state (unproven: Redis away)", labels=["state"])
    leases.add_metric(["held"], c.leases_held)
    leases.add_metric(["unproven"], c.leases_unproven)
    yield leases
    yield _gauge("mirp_cluster_edge_rooms", "Meetings this node is an edge of", c.edge_rooms)
    yield _gauge("mirp_cluster_edge_sessions", "Sessions joined here to another node's room",
                 c.edge_sessions)
    yield _gauge("mirp_cluster_stand_ins", "Sessions of other nodes in this node's rooms",
                 c.stand_ins)
    yield _gauge("mirp_cluster_stream_sent", "Stream messages published to edges by the rooms "
                 "open now", c.stream_sent)
    yield _gauge("mirp_cluster_stream_dropped", "Stream messages not published (lease "
                 "unproven, Redis away) by the rooms open now", c.stream_dropped)
    yield _gauge("mirp_cluster_resyncs", "Resyncs (fresh welcomes) of the edge rooms open now",
                 c.resyncs)
    yield _gauge("mirp_cluster_stale", "Old-epoch stream messages dropped by the edge rooms "
                 "open now", c.stale)
    decisions = CounterMetricFamily("mirp_cluster_decisions", "REST decisions on a room of "
                                    "another node: forwarded, served for another, lost",
                                    labels=["outcome"])
    decisions.add_metric(["forwarded"], c.decisions_forwarded)
    decisions.add_metric(["served"], c.decisions_served)
    decisions.add_metric(["lost"], c.decisions_lost)
    yield decisions


def _media(numbers: dict[str, float] | None) -> Iterator[Metric]:
    yield _gauge("mirp_media_up", "The media plane answered this scrape (1) or not (0)",
                 1 if numbers is not None else 0)
    for key, (name, kind, doc) in MEDIA.items():
        if numbers is not None and key in numbers:
            yield (_counter if kind == "counter" else _gauge)(name, doc, numbers[key])


class Scrape(Collector):
    """One scrape's families, read before rendering (the media plane's with an await)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def render(families: Iterable[Metric]) -> bytes:
    """The families, then the process's own (CPU, memory, open files, GC, Python version), in
    a registry of this scrape: the library's global one is never used (one app per process in
    production, several in the tests, each with its own numbers)."""
    registry = CollectorRegistry()
    registry.register(Scrape(families))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return generate_latest(registry)


async def _media_numbers(rooms: Rooms) -> dict[str, float] | None:
    try:
        async with asyncio.timeout(MEDIA_TIMEOUT_S):
            return await rooms.media_readout()
    except Exception as exc:  # away, restarting, or too slow: the scrape goes on without it
        log.debug("metrics: the media plane did not answer: %r", exc)
        return None


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: AppSettings, rooms: Rooms, tally: AppTally,
                  db: StartedDb, cluster: Cluster) -> Response:
    allowed(request, settings)
    families: list[Metric] = [*_rooms(rooms.readout()), *_tally(tally)]
    if cluster is not None:
        families.extend(_cluster(cluster.cluster_readout()))
    journal = rooms.health()
    if journal is not None:
        families.append(_gauge("mirp_journal_depth", "Records in the journal, not yet in the "
                               "database", float(str(journal.get("depth", 0)))))
        families.append(_gauge("mirp_journal_age_seconds", "Age of the oldest record not yet "
                               "in the database (s)", float(str(journal.get("age_s", 0.0)))))
        families.append(_gauge("mirp_journal_ok", "The journal file can be written (1) or not",
                               1 if journal.get("journal") == "ok" else 0))
    in_use = db.pool_in_use() if db is not None else None
    if in_use is not None:
        families.append(_gauge("mirp_db_pool_in_use", "Database connections lent out", in_use))
        capacity = settings.db_pool_size + settings.db_pool_overflow
        families.append(_gauge("mirp_db_pool_capacity", "Database connections at most (pool "
                               "size + overflow)", capacity))
    families.extend(_media(await _media_numbers(rooms)))
    return Response(render(families), media_type=CONTENT_TYPE_LATEST)
