"""What one customer or one client may send: message length and message rate, per channel.

A message longer than `MAX_MESSAGE_CHARS` never reaches the NLU: one 100,000-character REST
message once held Rasa's event loop for minutes, and no customer writes more than a few
hundred characters. Rates are token buckets per conversation and per client address, kept in
this process's memory: enough to stop one client flooding a Rasa process (each process of a
scale-out counts its own share, so the limit per client grows with the number of processes,
which the load balancer's own limits bound).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_MESSAGE_CHARS = 2000
TOO_LONG = "utter_message_too_long"
TOO_FAST = "utter_message_too_fast"


@dataclass(frozen=True)
class Rate:
    """`per_minute` messages on average, `burst` at once."""

    per_minute: float
    burst: int

    @classmethod
    def parse(cls, raw: str, name: str) -> Rate:
        """ "20/8" is 20 a minute with bursts of 8."""
        try:
            per_minute, burst = (float(part) for part in raw.split("/"))
        except ValueError as exc:
            raise ValueError(f"{name} must look like 20/8 (per minute/burst), not {raw!r}") from exc
        if not (per_minute > 0 and burst >= 1):
            raise ValueError(f"{name} must be positive, not {raw!r}")
        return cls(per_minute, int(burst))


class RateLimiter:
    """Token buckets by key; the least recently used are forgotten beyond `max_keys`."""

    def __init__(
        self, rate: Rate, max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one message; 0 if allowed, otherwise the seconds until one would be."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - last) * self.rate.per_minute / 60)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1 - tokens) * 60 / self.rate.per_minute
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


@dataclass(frozen=True)
class Limits:
    """A channel's rate limits: per conversation and per client address."""

    per_conversation: Rate = Rate(20, 8)
    per_client: Rate = Rate(300, 60)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        return cls(
            per_conversation=Rate.parse(
                env.get("CHANNEL_RATE_PER_CONVERSATION") or "20/8", "CHANNEL_RATE_PER_CONVERSATION"
            ),
            per_client=Rate.parse(
                env.get("CHANNEL_RATE_PER_CLIENT") or "300/60", "CHANNEL_RATE_PER_CLIENT"
            ),
        )


class Throttle:
    """A channel's limiters; `wait` says how long a message must wait, 0 when it may pass."""

    def __init__(self, limits: Limits) -> None:
        self.conversations = RateLimiter(limits.per_conversation)
        self.clients = RateLimiter(limits.per_client)

    def wait(self, conversation: str, client: str | None) -> int:
        waits = [self.conversations.take(conversation)]
        if client:
            waits.append(self.clients.take(client))
        return math.ceil(max(waits))
