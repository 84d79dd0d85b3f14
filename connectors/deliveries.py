"""A message delivered twice is processed once.

Clients retry: a REST integration resends a request that timed out, the web page resends a
message until it is acknowledged, Telegram redelivers an update it saw no answer to. Each
channel gives a delivery an id (the REST and web-chat `message_id`, Telegram's `tg<update_id>`)
and Rasa stores it on the user event, so the conversation itself records which deliveries were
processed, across restarts and Rasa processes. A repeat that arrives while the first delivery
is still being processed is not in the conversation yet; `Deliveries` catches it in memory.
"""

from __future__ import annotations

from typing import Any

from rasa.core.agent import Agent
from rasa.shared.core.events import BotUttered, UserUttered

from bot.contracts.cards import is_card

_REPLY_FIELDS = ("buttons", "quick_replies", "image", "attachment", "elements", "custom")


class Deliveries:
    """The deliveries one channel of this process is processing, by (sender, message id)."""

    def __init__(self) -> None:
        self._in_flight: set[tuple[str, str]] = set()

    async def claim(
        self, agent: Agent, sender: str, message_id: str
    ) -> list[dict[str, Any]] | None:
        """None for a new delivery, which is then in flight until `release`d.

        For a repeat: what the bot answered to the first delivery, or [] while that one is
        still being processed here (its request carries the answer).
        """
        key = (sender, message_id)
        if key in self._in_flight:
            return []
        # Claimed before the lookup, so a repeat arriving during it is caught as well.
        self._in_flight.add(key)
        try:
            earlier = await replies_to(agent, sender, message_id)
        except BaseException:
            self._in_flight.discard(key)
            raise
        if earlier is not None:
            self._in_flight.discard(key)
        return earlier

    def release(self, sender: str, message_id: str) -> None:
        """Processing ended: from now on the conversation answers for this delivery."""
        self._in_flight.discard((sender, message_id))


async def replies_to(agent: Agent, sender: str, message_id: str) -> list[dict[str, Any]] | None:
    """What the bot answered to the message with this id, or None if it never arrived."""
    tracker = await agent.tracker_store.retrieve(sender) if agent.tracker_store else None
    if tracker is None:
        return None
    replies: list[dict[str, Any]] | None = None
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break
            if event.message_id == message_id:
                replies = []
        elif isinstance(event, BotUttered) and replies is not None:
            reply: dict[str, Any] = {"recipient_id": sender}
            if event.text:
                reply["text"] = event.text
            reply |= {k: v for k, v in (event.data or {}).items() if k in _REPLY_FIELDS and v}
            if is_card(reply.get("custom")):
                del reply["custom"]  # as the first answer: cards are the web chat's alone
            replies.append(reply)
    return replies
