"""Channels served in-process, the way Rasa serves them, with a stand-in for the trained agent.

`StandInAgent` has what the channels use of Rasa's `Agent`: the domain's responses, a real
in-memory tracker store, and `handle_message`, which records the message and answers it the
way Rasa's processor would (replies sent through the output channel, then the user event with
its message_id and the bot events saved at the end). No model, no action server. The `serve`
fixture (tests/connectors/conftest.py) runs a channel with one on a loopback port.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event, UserUttered

from connectors.guard import APOLOGY, EMPTY

ROOT = Path(__file__).resolve().parents[2]
_DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
# The channels' own responses, as the domain words them.
CHANNEL_RESPONSES = (APOLOGY, EMPTY, "utter_message_too_long")

Reply = Callable[[UserMessage], Awaitable[list[str]]]


def text_of(response: str) -> str:
    return str(_DOMAIN["responses"][response][0]["text"])


async def echo(message: UserMessage) -> list[str]:
    return [f"echo: {message.text}"]


class StandInAgent:
    """Rasa's `Agent` as the channels see it; `reply` decides what the bot says to a message."""

    def __init__(self, reply: Reply = echo) -> None:
        self.domain = Domain.from_dict(
            {"responses": {name: _DOMAIN["responses"][name] for name in CHANNEL_RESPONSES}}
        )
        self.tracker_store = InMemoryTrackerStore(self.domain)
        self.reply = reply
        self.messages: list[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        events: list[Event] = [
            UserUttered(message.text, message_id=message.message_id, metadata=message.metadata)
        ]
        for text in await self.reply(message):
            # As Rasa's processor sends a bot message (the guard counts these calls).
            await message.output_channel.send_response(message.sender_id, {"text": text})
            events.append(BotUttered(text))
        # Like Rasa's processor, the conversation is saved once the turn is over: until then
        # only the channel's memory knows the delivery is being processed.
        await self.record(message.sender_id, *events)

    async def record(self, sender_id: str, *events: Event) -> None:
        tracker = await self.tracker_store.get_or_create_tracker(sender_id)
        for event in events:
            tracker.update(event)
        await self.tracker_store.save(tracker)

    async def bot_texts(self, sender_id: str) -> list[str]:
        tracker = await self.tracker_store.retrieve(sender_id)
        events = tracker.events if tracker else []
        return [e.text for e in events if isinstance(e, BotUttered) and e.text]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Serve = Callable[[InputChannel, StandInAgent], Awaitable[str]]
