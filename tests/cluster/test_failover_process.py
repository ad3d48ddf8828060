"""Failover with a real crash: the meeting's origin runs in a process of its own
(tests/cluster/failover_node.py) and is killed with SIGKILL; a spare and an edge in this
process, on the suite's redis-server. The edge re-places the meeting once the dead origin's
lease expired, the spare restores the Room from the shared snapshot, and every Session on the
edge gets a resumed welcome with the same floor, speakers list and on-air state, without being
closed; a command from the edge works again."""

from __future__ import annotations

import pytest

from tests.cluster.failover_support import kill_the_origin
from tests.support.redis import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.process]


async def test_a_killed_origin_is_replaced_and_the_edge_keeps_its_sessions(
        redis_server: RedisServer) -> None:
    seen = await kill_the_origin(redis_server.url, ttl_s=1.0, listeners=3)
    assert seen.before == {"holders": ["p_d1"], "speakers": ["p_d2"], "on_air": {"fr": "p_fr1"}}
    assert seen.after == [seen.before] * 7  # chair, d1, d2, fr1 and three listeners
    assert seen.resumed and seen.closed == 0
    assert seen.new_origin == "spare"


async def test_a_paused_origin_resumed_after_the_takeover_changes_nothing(
        redis_server: RedisServer) -> None:
    """SIGSTOP past the lease, the spare takes over, SIGCONT: the old origin answers no request
    (its lease unproven), its events and snapshots are fenced, it learns it was deposed; the
    edge's commands all land once, at the new origin, and the stored snapshot is its."""
    seen = await kill_the_origin(redis_server.url, ttl_s=1.0, pause=True)
    assert seen.after == [seen.before] * 4 and seen.resumed
    assert seen.deposed
    # d2 given the floor after the takeover, then the chair's own floor given and withdrawn
    # five times: as it was after the takeover
    want = {"holders": ["p_d1", "p_d2"], "speakers": [], "on_air": {"fr": "p_fr1"}}
    assert seen.last == seen.stored == want
    assert seen.closed == 0
