"""What the web page receives from the bot, live and in the history, in one shape.

Live: `WebchatOutput` emits each bot message whole as `bot_uttered` to the conversation's room
(one bubble per message). History: `transcript` renders the stored conversation for
`GET /webhooks/webchat/history`. Both carry `ts` (the tracker event's timestamp, the key the
page uses to tell a live message from the same message in the transcript), `agent` (the
support-desk agent who wrote it), `event` ("agent_joined" on the agent's greeting, which
the page shows as a notice) and `notice_key` (an outbox notice's key: the page shows each key
once, also across a reload, and the transcript keeps the first of a repeated notice, which a
worker that crashed between sending and marking it sent may write twice); buttons and quick
replies become `{title, payload}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rasa.core.channels.channel import OutputChannel
from rasa.shared.core.events import Event
from socketio import AsyncServer

from bot.contracts.transcript import AGENT_JOINED, DESK_AGENT, DESK_EVENT, NOTICE_KEY, messages

BOT_EVENT = "bot_uttered"
HISTORY_LIMIT = 300
# The support desk marks an agent's message with this metadata (bot/desk/rasa.py).
_BOT_FIELDS = ("buttons", "quick_replies", "image", "attachment", "elements", "custom")


def _choices(items: Iterable[Any]) -> list[dict[str, str]]:
    """Buttons and quick replies as the page renders them: a title and the payload to send."""
    return [
        {"title": str(item.get("title", "")), "payload": str(item.get("payload", ""))}
        for item in items
        if isinstance(item, dict)
    ]


class WebchatOutput(OutputChannel):
    """Emits the bot's messages to the conversation's room, whole (one bubble per message)."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    def __init__(self, sio: AsyncServer) -> None:
        self.sio = sio

    async def _emit(
        self, recipient_id: str, message: dict[str, Any], extra: dict[str, Any]
    ) -> None:
        stamp = extra.get("timestamp")
        if isinstance(stamp, int | float):
            message["ts"] = stamp
        agent = extra.get(DESK_AGENT)
        if isinstance(agent, str) and agent:
            message["agent"] = agent
        if extra.get(DESK_EVENT) == AGENT_JOINED:
            message["event"] = AGENT_JOINED
        notice_key = extra.get(NOTICE_KEY)
        if isinstance(notice_key, str) and notice_key:
            message[NOTICE_KEY] = notice_key
        # Local fan-out to the room's sockets: queued, never waits on a slow client.
        await self.sio.emit(BOT_EVENT, message, room=recipient_id)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """A file an agent sent (`custom.attachment`, bot/desk) as one `file` message; the
        file's name, its text, is for channels that cannot show it."""
        attachment = _attachment_of(message)
        if attachment is not None:
            await self._emit(recipient_id, {"file": attachment}, message)
            return
        # A text with its card (`actions/cards.py`) is one bubble, as in the history: Rasa's
        # default would emit them as two messages under one `ts`, and the page keeps one.
        if message.get("text") and message.get("custom"):
            extra = dict(message)
            shown: dict[str, Any] = {"text": extra.pop("text"), "custom": extra.pop("custom")}
            for key in ("buttons", "quick_replies"):
                if extra.get(key):
                    shown[key] = _choices(extra.pop(key))
            await self._emit(recipient_id, shown, extra)
            return
        await super().send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"text": text}, kwargs)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._emit(recipient_id, {"text": text, "buttons": _choices(buttons)}, kwargs)

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        message = {"text": text, "quick_replies": _choices(quick_replies)}
        await self._emit(recipient_id, message, kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"image": image}, kwargs)

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        await self._emit(recipient_id, {"attachment": attachment}, kwargs)

    async def send_elements(
        self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._emit(recipient_id, {"elements": list(elements)}, kwargs)

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self._emit(recipient_id, {"custom": json_message}, kwargs)


def _attachment_of(message: Mapping[str, Any]) -> dict[str, Any] | None:
    custom = message.get("custom")
    found = custom.get("attachment") if isinstance(custom, Mapping) else None
    return dict(found) if isinstance(found, Mapping) and isinstance(found.get("id"), str) else None


def transcript(events: Iterable[Event], limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """The customer's and the bot's messages, oldest first, as the page renders them."""
    shown: list[dict[str, Any]] = []
    notices: set[str] = set()
    for message in messages(event.as_dict() for event in events):
        if message.sender == "user":
            if message.text:
                said: dict[str, Any] = {"sender": "user", "text": message.shown}
                said["ts"] = message.timestamp
                if message.attachment is not None:
                    said["file"] = dict(message.attachment)
                shown.append(said)
            continue
        if message.notice_key is not None:
            if message.notice_key in notices:
                continue
            notices.add(message.notice_key)
        line: dict[str, Any] = {"sender": "bot", "ts": message.timestamp}
        if message.attachment is not None:
            shown.append(line | {"agent": message.agent, "file": dict(message.attachment)})
            continue
        if message.notice_key is not None:
            line[NOTICE_KEY] = message.notice_key
        if message.text:
            line["text"] = message.text
        if message.agent:
            line["agent"] = message.agent
        if message.event:
            line["event"] = message.event
        for key in _BOT_FIELDS:
            value = message.data.get(key)
            if value:
                line[key] = _choices(value) if key in ("buttons", "quick_replies") else value
        if any(key in line for key in ("text", *_BOT_FIELDS)):
            shown.append(line)
    return shown[-limit:]
