"""The Directory in Redis, shared by every node of a cluster.

Layout (under the prefix, see `Keys`): a hash per node with its address and load, expiring
`ttl` after its last heartbeat, and a set naming the nodes (pruned when a node's hash is gone);
per meeting a lease string "<epoch> <node>" expiring with the lease, and an epoch counter that
never expires. Acquire, renew, release and place are Lua scripts, so each check-and-set is one
atomic step in Redis: two nodes racing for a meeting see one winner, and a holder whose epoch
went stale is refused even if it comes back between another node's read and write.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis

from mirp.cluster.directory import Lease, NodeInfo, NodeLoad, check_name, check_ttl, lost
from mirp.cluster.redis_common import (
    DEFAULT_BOUND_S,
    Keys,
    bounded,
    connect,
    lease_value,
    parse_lease,
)
from mirp.errors import Conflict

# KEYS: lease, epoch. ARGV: node, ttl_ms, after. -> {1, epoch, node} | {0, epoch, holder}
ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, ' ', 1, true)
  local holder = string.sub(cur, sep + 1)
  if holder ~= ARGV[1] then return {0, tonumber(string.sub(cur, 1, sep - 1)), holder} end
end
local e = redis.call('INCR', KEYS[2])
if e <= tonumber(ARGV[3]) then
  e = tonumber(ARGV[3]) + 1
  redis.call('SET', KEYS[2], e)
end
redis.call('SET', KEYS[1], e .. ' ' .. ARGV[1], 'PX', ARGV[2])
return {1, e, ARGV[1]}
"""

# KEYS: lease, epoch. ARGV: "<epoch> <node>", ttl_ms. -> {1, epoch} renewed, {0, current} lost
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, 0}
end
return {0, tonumber(redis.call('GET', KEYS[2]) or '0')}
"""

# KEYS: lease. ARGV: "<epoch> <node>".
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: lease, epoch, nodes set. ARGV: ttl_ms, node key prefix, after.
# -> {epoch, node} (the live lease, or a new one on the least loaded node), {0, ''} no node
PLACE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, ' ', 1, true)
  return {tonumber(string.sub(cur, 1, sep - 1)), string.sub(cur, sep + 1)}
end
local best, best_score = nil, nil
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local s = redis.call('HGET', ARGV[2] .. id, 'score')
  if not s then
    redis.call('SREM', KEYS[3], id)
  else
    s = tonumber(s)
    if best == nil or s < best_score or (s == best_score and id < best) then
      best, best_score = id, s
    end
  end
end
if best == nil then return {0, ''} end
local e = redis.call('INCR', KEYS[2])
if e <= tonumber(ARGV[3]) then
  e = tonumber(ARGV[3]) + 1
  redis.call('SET', KEYS[2], e)
end
redis.call('SET', KEYS[1], e .. ' ' .. best, 'PX', ARGV[1])
return {e, best}
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisDirectory:
    """`bound_s` bounds each call (Redis away or hung -> `Unavailable` within it)."""

    def __init__(self, url: str, *, prefix: str = "mirp",
                 bound_s: float = DEFAULT_BOUND_S) -> None:
        self.keys = Keys(prefix)
        self.bound_s = bound_s
        self._redis: redis.Redis = connect(url, bound_s)
        self._acquire = self._redis.register_script(ACQUIRE)
        self._renew = self._redis.register_script(RENEW)
        self._release = self._redis.register_script(RELEASE)
        self._place = self._redis.register_script(PLACE)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def heartbeat(self, node: NodeInfo, ttl_s: float) -> None:
        check_name("node", node.node_id)
        ms = check_ttl(ttl_s)
        key = self.keys.node(node.node_id)
        load = node.load
        async with bounded("heartbeat", self.bound_s):
            async with self._redis.pipeline(transaction=True) as tx:
                tx.hset(key, mapping={"address": node.address, "listeners": load.listeners,
                                      "feeds": load.feeds, "cpu": repr(load.cpu),
                                      "score": repr(load.score)})
                tx.pexpire(key, ms)
                tx.sadd(self.keys.nodes, node.node_id)
                await tx.execute()

    async def leave(self, node_id: str) -> None:
        async with bounded("leave", self.bound_s):
            async with self._redis.pipeline(transaction=True) as tx:
                tx.delete(self.keys.node(node_id))
                tx.srem(self.keys.nodes, node_id)
                await tx.execute()

    async def nodes(self) -> list[NodeInfo]:
        async with bounded("nodes", self.bound_s):
            ids = sorted(_text(i) for i in await self._redis.smembers(self.keys.nodes))
            async with self._redis.pipeline(transaction=False) as p:
                for node_id in ids:
                    p.hgetall(self.keys.node(node_id))
                rows: list[dict[bytes, bytes]] = await p.execute()
        live = []
        for node_id, row in zip(ids, rows, strict=True):
            if row:  # a hash gone (expired) is pruned from the set by the next placement
                fields = {_text(k): _text(v) for k, v in row.items()}
                load = NodeLoad(int(fields["listeners"]), int(fields["feeds"]),
                                float(fields["cpu"]))
                live.append(NodeInfo(node_id, fields["address"], load))
        return sorted(live, key=lambda n: (n.load.score, n.node_id))

    async def acquire(self, meeting: str, node_id: str, ttl_s: float, *,
                      after: int = 0) -> Lease:
        check_name("meeting", meeting)
        check_name("node", node_id)
        ms = check_ttl(ttl_s)
        async with bounded("acquire", self.bound_s):
            ok, epoch, holder = await self._acquire(
                keys=[self.keys.lease(meeting), self.keys.epoch(meeting)],
                args=[node_id, ms, after])
        if not ok:
            raise Conflict(f"meeting {meeting} is held by {_text(holder)}",
                           {"meeting": meeting, "holder": _text(holder), "epoch": int(epoch)})
        return Lease(meeting, node_id, int(epoch))

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        ms = check_ttl(ttl_s)
        async with bounded("renew", self.bound_s):
            ok, current = await self._renew(
                keys=[self.keys.lease(lease.meeting), self.keys.epoch(lease.meeting)],
                args=[lease_value(lease), ms])
        if not ok:
            raise lost(lease, int(current))
        return lease

    async def release(self, lease: Lease) -> None:
        async with bounded("release", self.bound_s):
            await self._release(keys=[self.keys.lease(lease.meeting)],
                                args=[lease_value(lease)])

    async def holder(self, meeting: str) -> Lease | None:
        async with bounded("holder", self.bound_s):
            value = await self._redis.get(self.keys.lease(meeting))
        return parse_lease(meeting, value)

    async def place(self, meeting: str, ttl_s: float, *, after: int = 0) -> Lease:
        check_name("meeting", meeting)
        ms = check_ttl(ttl_s)
        async with bounded("place", self.bound_s):
            epoch, node_id = await self._place(
                keys=[self.keys.lease(meeting), self.keys.epoch(meeting), self.keys.nodes],
                args=[ms, self.keys.node_prefix, after])
        if not int(epoch):
            raise Conflict(f"no live node to place meeting {meeting} on", {"meeting": meeting})
        return Lease(meeting, _text(node_id), int(epoch))
