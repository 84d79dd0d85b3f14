"""Back-off for what an attacker repeats (password guesses): counters in memory or in Redis.

A `Gate` is a key (an account, a client address, or both) with a `Backoff`: after `free`
attempts each further one must wait `first` seconds after the previous, doubling up to
`longest`; the count is forgotten `forget` seconds after the wait of the last attempt.
`Counters.attempt` checks hard gates and counts one attempt on every gate in one atomic
step: a hard gate still waiting refuses the attempt (and counts nothing, so hammering a closed
gate does not extend it); soft gates never refuse, they only say how long to slow this attempt
down. Callers forgive an attempt that turned out well (`forgive`).

Why not the `limits` package: every release that has the storage we need requires
`packaging>=21`, which Rasa 3.6 (`packaging<21`) forbids in the same environment, and it
counts fixed or moving windows, not a back-off that doubles. A Lua script in Redis (redis-py is
already installed with Rasa) and a dict in memory are short enough to read in full.

Memory counters are per process: right for `make run`'s single backend. Several backend
processes behind a load balancer share Redis (`BOT_REDIS_URL`).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Backoff:
    free: int
    first: float
    longest: float
    forget: float

    def wait(self, attempts: int) -> float:
        """Seconds the attempt after `attempts` counted ones must wait after the last of them."""
        if attempts < self.free:
            return 0.0
        return min(self.longest, self.first * 2.0 ** min(attempts - self.free, 60))


@dataclass(frozen=True)
class Gate:
    key: str
    backoff: Backoff


@dataclass(frozen=True)
class Verdict:
    retry_after: float
    """Above zero: refused (and not counted); the seconds until a hard gate opens."""
    delay: float
    """Seconds to slow this (counted) attempt down, from the soft gates."""


class CountersUnavailable(Exception):
    """The shared counters (Redis) do not answer: refuse rather than stop counting."""


class Counters(Protocol):
    async def attempt(self, hard: Sequence[Gate], soft: Sequence[Gate], now: float) -> Verdict:
        """Refuse if a hard gate waits; otherwise count an attempt on every gate."""

    async def forgive(self, reset: Sequence[str], undo: Sequence[str]) -> None:
        """Forget the `reset` keys; take the last counted attempt back from the `undo` keys."""

    async def ping(self) -> None:
        """Raise CountersUnavailable unless the counters' store answers."""

    async def close(self) -> None: ...


class MemoryCounters:
    """Counters of this process. No await inside a step, so each step is atomic."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        # key -> [count, last attempt, forget at]
        self._entries: dict[str, list[float]] = {}

    def _state(self, key: str, now: float) -> tuple[int, float]:
        entry = self._entries.get(key)
        if entry is None or entry[2] <= now:
            self._entries.pop(key, None)
            return 0, 0.0
        return int(entry[0]), entry[1]

    async def attempt(self, hard: Sequence[Gate], soft: Sequence[Gate], now: float) -> Verdict:
        retry = 0.0
        for gate in hard:
            count, last = self._state(gate.key, now)
            retry = max(retry, last + gate.backoff.wait(count) - now)
        if retry > 0:
            return Verdict(retry, 0.0)
        delay = 0.0
        for gate in soft:
            delay = max(delay, gate.backoff.wait(self._state(gate.key, now)[0]))
        for gate in (*hard, *soft):
            count = self._state(gate.key, now)[0] + 1
            forget_at = now + gate.backoff.wait(count) + gate.backoff.forget
            self._entries[gate.key] = [count, now, forget_at]
        if len(self._entries) > self.max_keys:
            self._shrink(now)
        return Verdict(0.0, delay)

    def _shrink(self, now: float) -> None:
        """Drop forgotten keys; if a flood of fresh keys remains, the ones forgotten soonest.

        Losing a few counts under a flood of addresses is better than running out of memory.
        """
        for key in [k for k, e in self._entries.items() if e[2] <= now]:
            del self._entries[key]
        excess = len(self._entries) - self.max_keys * 9 // 10
        if excess > 0:
            for key in sorted(self._entries, key=lambda k: self._entries[k][2])[:excess]:
                del self._entries[key]

    async def forgive(self, reset: Sequence[str], undo: Sequence[str]) -> None:
        for key in reset:
            self._entries.pop(key, None)
        for key in undo:
            entry = self._entries.get(key)
            if entry is not None:
                entry[0] -= 1
                if entry[0] <= 0:
                    del self._entries[key]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._entries.clear()


# KEYS: the hard gates' keys, then the soft ones'. ARGV: now, how many are hard, then for each
# key its free, first, longest and forget. Numbers travel as strings: Redis would truncate a
# Lua number to an integer on the way back.
_ATTEMPT = """
local now = tonumber(ARGV[1])
local hard = tonumber(ARGV[2])
local function wait(n, o)
  local free, first, longest = tonumber(ARGV[o]), tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2])
  if n < free then return 0 end
  return math.min(longest, first * 2 ^ math.min(n - free, 60))
end
local counts = {}
local retry, delay = 0, 0
for i, key in ipairs(KEYS) do
  local o = 3 + (i - 1) * 4
  local state = redis.call('HMGET', key, 'n', 'last')
  local n, last = tonumber(state[1]) or 0, tonumber(state[2]) or 0
  counts[i] = n
  if i <= hard then
    retry = math.max(retry, last + wait(n, o) - now)
  else
    delay = math.max(delay, wait(n, o))
  end
end
if retry > 0 then return {tostring(retry), '0'} end
for i, key in ipairs(KEYS) do
  local o = 3 + (i - 1) * 4
  local n = counts[i] + 1
  redis.call('HSET', key, 'n', n, 'last', ARGV[1])
  redis.call('EXPIRE', key, math.ceil(wait(n, o) + tonumber(ARGV[o + 3])))
end
return {'0', tostring(delay)}
"""

# KEYS: the keys to forget, then those to take one attempt back from. ARGV: how many to forget.
_FORGIVE = """
local reset = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if i <= reset then
    redis.call('DEL', key)
  elseif redis.call('EXISTS', key) == 1 and redis.call('HINCRBY', key, 'n', -1) <= 0 then
    redis.call('DEL', key)
  end
end
return 0
"""


class RedisCounters:
    """Counters shared by every backend process, in Redis (one Lua script per step).

    All keys of one step must live on one node: plain Redis or Sentinel, not Redis Cluster.
    """

    def __init__(self, url: str, prefix: str = "aftersales:throttle:") -> None:
        from redis import asyncio as aioredis

        self.prefix = prefix
        self._redis: Any = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._attempt = self._redis.register_script(_ATTEMPT)
        self._forgive = self._redis.register_script(_FORGIVE)

    async def _run(self, script: Any, keys: list[str], args: list[str]) -> Any:
        from redis.exceptions import RedisError

        try:
            return await script(keys=[self.prefix + k for k in keys], args=args)
        except (RedisError, OSError) as exc:
            raise CountersUnavailable(f"Redis does not answer: {exc}") from exc

    async def attempt(self, hard: Sequence[Gate], soft: Sequence[Gate], now: float) -> Verdict:
        gates = (*hard, *soft)
        args = [repr(now), str(len(hard))]
        for gate in gates:
            b = gate.backoff
            args += [str(b.free), repr(b.first), repr(b.longest), repr(b.forget)]
        retry, delay = await self._run(self._attempt, [g.key for g in gates], args)
        return Verdict(float(retry), float(delay))

    async def forgive(self, reset: Sequence[str], undo: Sequence[str]) -> None:
        await self._run(self._forgive, [*reset, *undo], [str(len(reset))])

    async def ping(self) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise CountersUnavailable(f"Redis does not answer: {exc}") from exc

    async def close(self) -> None:
        await self._redis.close()


def open_counters(redis_url: str | None) -> Counters:
    if redis_url:
        return RedisCounters(redis_url)
    return MemoryCounters()


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


# --- who is asking ---------------------------------------------------------------------------


def parse_networks(raw: str) -> tuple[Network, ...]:
    """`10.0.0.1, 192.168.0.0/16` as networks; ValueError names the bad entry."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise ValueError(f"not an address or network: {item!r}") from exc
    return tuple(networks)


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(request: web.Request, proxies: Sequence[Network] = ()) -> str:
    """The address a request came from, as a throttling key.

    `X-Forwarded-For` is believed only as far as it was written by our own proxies (walking
    back from the peer while the hop is trusted); anyone else can write anything in it. An
    IPv6 client is keyed by its /64, which one customer line usually gets whole.
    """
    address = request.remote or ""
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    hops = [h for h in hops if h]
    while hops and _trusted(address, proxies):
        address = hops.pop()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
