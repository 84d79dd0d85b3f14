"""No customer is left without an answer, whatever fails behind the channel.

A customer waiting for a person who asks how long gets their place in the queue
(`connectors/waiting.py`).

When the action server is down, an action raises, or a turn takes too long, Rasa logs
"actions events are lost" and sends nothing. Every channel of this project hands its messages
to Rasa through `Guard.handle`, which counts what went out and, if nothing did (and the
conversation is not paused for a human agent), sends the apology from the domain. A request a
channel cannot take gets an answer too: `error_response`, a JSON error, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import response
from sanic.response import HTTPResponse

from connectors.waiting import QUEUE_PLACE, asks_about_wait, minutes_per_customer, queue_place

log = logging.getLogger(__name__)

APOLOGY = "utter_service_unavailable"
EMPTY = "utter_empty_message"
DEFAULT_REPLY_TIMEOUT = 20.0


class CountingOutputChannel(OutputChannel):
    """Passes every message on to the real channel and counts them."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.sent = 0

    def name(self) -> str:
        return str(self.inner.name())

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent += 1
        await self.inner.send_response(recipient_id, message)


def domain_text(agent: Agent, response: str, channel: str | None = None) -> str:
    """A text of one of the domain's responses, its variation chosen as Rasa's own NLG does:
    among those for this output channel if there are any, else those for no channel, at
    random."""
    variants = (agent.domain.responses.get(response) if agent.domain else None) or []
    for_channel = [v for v in variants if channel and v.get("channel") == channel]
    usable = for_channel or [v for v in variants if not v.get("channel")]
    return str(random.choice(usable).get("text", "")) if usable else ""


async def is_paused(agent: Agent, sender_id: str) -> bool:
    if agent.tracker_store is None:
        return False
    tracker = await agent.tracker_store.retrieve(sender_id)
    return bool(tracker and tracker.is_paused())


@dataclass(frozen=True)
class Guard:
    """The reply guard with its setting, read once when a channel is built."""

    # Seconds a customer waits before we apologise; the turn itself goes on in the background.
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Guard:
        env = os.environ if env is None else env
        raw = env.get("CHANNEL_REPLY_TIMEOUT") or str(DEFAULT_REPLY_TIMEOUT)
        try:
            seconds = float(raw)
        except ValueError:
            seconds = 0.0
        if not seconds > 0:
            raise ValueError(f"CHANNEL_REPLY_TIMEOUT must be a number of seconds, not {raw!r}")
        return cls(reply_timeout=seconds)

    async def handle(
        self,
        agent: Agent,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        message: UserMessage,
    ) -> None:
        """Process a message; if nothing was sent back, apologise (unless a person has it)."""
        counter = CountingOutputChannel(message.output_channel)
        message.output_channel = counter
        # Shielded: a slow turn keeps running after we answered, so its events are not lost.
        turn = asyncio.ensure_future(on_new_message(message))
        try:
            await asyncio.wait_for(asyncio.shield(turn), timeout=self.reply_timeout)
        except asyncio.TimeoutError:
            log.warning("no reply within %.0f s for %s", self.reply_timeout, message.sender_id)
        except Exception:
            log.exception("processing a message of %s failed", message.sender_id)
        if counter.sent:
            return
        if not await is_paused(agent, message.sender_id):
            await counter.inner.send_text_message(
                message.sender_id, domain_text(agent, APOLOGY, counter.name())
            )
        elif asks_about_wait(message.text):
            # Paused for a person who has not come yet: the customer asks how long.
            place = await queue_place(message.sender_id)
            if place is not None:
                answer = domain_text(agent, QUEUE_PLACE, counter.name())
                minutes = place * minutes_per_customer()
                await counter.inner.send_text_message(
                    message.sender_id, answer.format(place=place, minutes=minutes)
                )


def error_response(status: int, code: str, message: str) -> HTTPResponse:
    """A refused request, in the shape of the backend's errors: `{"error": {code, message}}`."""
    return response.json({"error": {"code": code, "message": message}}, status=status)
