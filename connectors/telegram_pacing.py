"""Pacing of outgoing Telegram messages to the Bot API's limits.

Telegram asks bots to send about one message a second to one chat (short bursts are tolerated)
and no more than about 30 messages a second overall; beyond that it answers 429 with
`retry_after`, and a bot that keeps going is blocked for longer. Without pacing, a station
closing a batch of orders (each a notice and a survey) or a customer's turn with several
answers runs straight into that.

`Pacer.wait(chat)` holds a message until both limits allow it: a generic cell rate algorithm
(GCRA, the token bucket's arithmetic kept as one "theoretical arrival time" per bucket) per
chat and one for the whole bot. A send time is reserved before sleeping, so concurrent turns
queue up in order without a lock (one event loop): first in the chat's bucket, then, once that
wait is over, in the bot's. State is this process's
memory: with several Rasa processes each paces its own share, which is why the defaults stay
at Telegram's numbers rather than above them. No rate-limit library is installed in the
project (aiolimiter would give the overall limit but not the per-chat one), and this is small.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Pace:
    """Messages a second per chat (with a burst) and overall; read from the environment."""

    per_chat: float = 1.0
    chat_burst: int = 3
    overall: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Pace:
        def number(name: str, default: float) -> float:
            raw = env.get(name) or ""
            try:
                value = float(raw) if raw.strip() else default
            except ValueError as exc:
                raise ValueError(f"{name} must be a number, not {raw!r}") from exc
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {raw!r}")
            return value

        return cls(
            per_chat=number("TELEGRAM_PACE_PER_CHAT", cls.per_chat),
            chat_burst=max(1, int(number("TELEGRAM_PACE_CHAT_BURST", cls.chat_burst))),
            overall=number("TELEGRAM_PACE_OVERALL", cls.overall),
        )


class _Cell:
    """One bucket: `rate` a second on average, `burst` back to back."""

    __slots__ = ("interval", "tat", "tolerance")

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self.tat = float("-inf")  # the theoretical arrival time of the next message

    def earliest(self, now: float) -> float:
        return max(now, self.tat - self.tolerance)

    def take(self, at: float) -> None:
        self.tat = max(self.tat, at) + self.interval


class Pacer:
    """Where a message to a chat must wait; chats idle for a while are forgotten (LRU)."""

    def __init__(
        self,
        pace: Pace,
        *,
        max_chats: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.pace = pace
        self.max_chats = max_chats
        self.clock, self.sleep = clock, sleep
        # No burst overall: evenly spaced, no one-second window holds more than `overall`.
        self._overall = _Cell(pace.overall, 1)
        self._chats: OrderedDict[str, _Cell] = OrderedDict()

    def reserve_chat(self, chat: str) -> float:
        """Book the chat's next send; the seconds until it may be made."""
        now = self.clock()
        cell = self._chats.pop(chat, None) or _Cell(self.pace.per_chat, self.pace.chat_burst)
        self._chats[chat] = cell
        while len(self._chats) > self.max_chats:
            self._chats.popitem(last=False)
        at = cell.earliest(now)
        cell.take(at)
        return at - now

    def reserve_overall(self) -> float:
        """Book the bot's next send; the seconds until it may be made."""
        now = self.clock()
        at = self._overall.earliest(now)
        self._overall.take(at)
        return at - now

    async def wait(self, chat: str) -> None:
        """Until a message to `chat` may go. The chat's turn first, the bot's then: a chat
        waiting a second for its own turn must not book the bot's slots ahead of other chats."""
        delay = self.reserve_chat(chat)
        if delay > 0:
            await self.sleep(delay)
        delay = self.reserve_overall()
        if delay > 0:
            await self.sleep(delay)
