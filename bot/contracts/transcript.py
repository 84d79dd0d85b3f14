"""Reading a conversation's messages out of Rasa's events: one reader for every transcript.

The web chat's history (`connectors/webchat_output.py`), the desk's view of a conversation
(`bot/desk/rasa.py`) and the desk's live feed (`bot/desk/broker.py`) all turn Rasa's `user`
and `bot` events (as JSON, `Event.as_dict()`) into messages; they differ only in the shape they
hand on. A bot event written for a support agent carries the agent's name in its metadata
under `DESK_AGENT` (the desk sends it, the channels show it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

DESK_AGENT = "desk_agent"
# A bot event that is a change of who answers (an agent joined) says so under this key.
DESK_EVENT = "desk_event"
AGENT_JOINED = "agent_joined"
# A notice of the outbox (bot/notices.py) carries its key (order:event:round) under this key:
# a worker that crashed after sending sends it again, and the channels drop the repeat.
NOTICE_KEY = "notice_key"


@dataclass(frozen=True)
class Message:
    sender: Literal["user", "bot"]
    # What was sent: a button's payload (/affirm) for a click.
    text: str
    timestamp: float | None
    # What the customer saw: the button's title for a click, else the text.
    shown: str = ""
    # The support agent who wrote a bot message, if one did.
    agent: str | None = None
    # A bot message's buttons, images and other rich parts, as Rasa keeps them.
    data: Mapping[str, Any] = field(default_factory=dict)
    # The desk event this message announces (`AGENT_JOINED`), if any.
    event: str | None = None
    # A photo or file sent with the message (bot.attachments: id, name, content_type, size,
    # image): a customer's in the user event's metadata, an agent's in the bot event's
    # `custom` data.
    attachment: Mapping[str, Any] | None = None
    # The outbox's key of a notice (NOTICE_KEY), if the message is one.
    notice_key: str | None = None

    @property
    def button_titles(self) -> list[Any]:
        buttons = self.data.get("buttons") or []
        return [b.get("title") for b in buttons if isinstance(b, Mapping)]


def message_of(event: Mapping[str, Any]) -> Message | None:
    """The message an event carries, or None for every other kind of event."""
    kind, text = event.get("event"), str(event.get("text") or "")
    metadata = event.get("metadata") or {}
    timestamp = event.get("timestamp")
    stamp = float(timestamp) if isinstance(timestamp, int | float) else None
    if kind == "user":
        display = metadata.get("display")
        shown = display if isinstance(display, str) and display else text
        return Message("user", text, stamp, shown=shown, attachment=_attachment(metadata))
    if kind == "bot":
        agent = metadata.get(DESK_AGENT)
        event_name = metadata.get(DESK_EVENT)
        notice_key = metadata.get(NOTICE_KEY)
        return Message(
            "bot",
            text,
            stamp,
            shown=text,
            agent=agent if isinstance(agent, str) and agent else None,
            data=event.get("data") or {},
            event=event_name if isinstance(event_name, str) and event_name else None,
            attachment=_attachment((event.get("data") or {}).get("custom")),
            notice_key=notice_key if isinstance(notice_key, str) and notice_key else None,
        )
    return None


def _attachment(holder: Any) -> Mapping[str, Any] | None:
    found = holder.get("attachment") if isinstance(holder, Mapping) else None
    if isinstance(found, Mapping) and isinstance(found.get("id"), str):
        return found
    return None


def messages(events: Iterable[Mapping[str, Any]]) -> list[Message]:
    """The conversation's messages, oldest first."""
    return [m for m in map(message_of, events) if m is not None]
