"""What the tracker says about the conversation: channel, earlier messages, idempotency keys.

`history` is the one walk over the tracker's events: the customer's messages, newest first,
each with the actions that answered it. The other helpers read the latest message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker


def channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


def source(tracker: Tracker) -> str:
    """Who is asking, for per-customer limits in the backend."""
    return f"{channel(tracker)}:{tracker.sender_id}"[:100]


@dataclass(frozen=True)
class Said:
    """A message of the customer, and the actions that answered it (action_listen left out)."""

    text: str
    intent: str | None
    timestamp: Any
    answered_by: tuple[str, ...]

    @property
    def typed(self) -> str | None:
        """The words the customer typed; None for a button ("/intent") or an empty message."""
        words = self.text.strip()
        return words if words and not words.startswith("/") else None


def history(tracker: Tracker) -> Iterator[Said]:
    """The customer's messages in this conversation, newest (the one being answered) first."""
    answered_by: list[str] = []
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "action" and event.get("name") != "action_listen":
            answered_by.append(str(event.get("name")))
        elif kind == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            yield Said(
                text=str(event.get("text") or ""),
                intent=str(intent) if intent else None,
                timestamp=event.get("timestamp"),
                answered_by=tuple(reversed(answered_by)),
            )
            answered_by = []


def idempotency_key(tracker: Tracker, what: str) -> str:
    """Stable for one user turn: a retried action call sends the same key, a new turn a new one."""
    stamp = tracker.latest_message.get("message_id")
    if not stamp:
        latest = next(history(tracker), None)
        stamp = latest.timestamp if latest else "0"
    return f"{tracker.sender_id}:{what}:{stamp}"[:100]


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "").strip()


def latest_intent(tracker: Tracker) -> str | None:
    intent = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    return str(name) if name else None


def last_intent_among(tracker: Tracker, names: Iterable[str]) -> str | None:
    """The most recent of these intents in the conversation (which journey started a form)."""
    wanted = set(names)
    return next((said.intent for said in history(tracker) if said.intent in wanted), None)


def entity(tracker: Tracker, name: str) -> str | None:
    """An entity of the latest message (fresher than the slot, which may be from earlier)."""
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value is not None else None
