"""What a Telegram update asks of the assistant: words to process, or a response to send.

Private chats only; an edited message is a new message, except a live location moving; a
shared location becomes `/share_location{"location": "lat,lon"}`; a photo's caption is its
text; `/start` and `/help` are a greeting; other media get `utter_text_only` (or, while an agent
holds the conversation, reach the desk as `[sticker]` etc.). A pressed button's payload is
found again through the bot messages stored in the conversation (`resolve_callback`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rasa.core.agent import Agent
from rasa.shared.core.events import BotUttered
from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType

from connectors.telegram_output import DIGEST_PREFIX, callback_data

TEXT_ONLY = "utter_text_only"
# Commands a Telegram user sends by tapping the menu; both mean "what can you do".
GREETING_COMMANDS = ("/start", "/help")


@dataclass
class Incoming:
    """What an update asks of the assistant: a text to process, or a response to send."""

    chat_id: str
    text: str | None = None
    response: str | None = None
    callback_query: CallbackQuery | None = None


def location_payload(latitude: float, longitude: float) -> str:
    location = json.dumps({"location": f"{latitude:.5f},{longitude:.5f}"})
    return f"/share_location{location}"


def message_text(message: Message) -> str | None:
    """The customer's words in a message, a location as an intent, None for other media."""
    if message.location:
        return location_payload(message.location.latitude, message.location.longitude)
    words = message.text or message.caption
    if not words or not words.strip():
        return None
    command = words.split(maxsplit=1)[0].split("@", 1)[0]
    return "/greet" if command in GREETING_COMMANDS else words


MEDIA_KINDS = ("sticker", "voice", "audio", "photo", "video", "video_note", "document", "animation")


def media_marker(update: Update) -> str:
    """What the desk shows for a message the assistant cannot read, e.g. "[sticker]"."""
    message = update.message or update.edited_message
    kind = next((k for k in MEDIA_KINDS if message and getattr(message, k, None)), "media")
    return f"[{kind}]"


def read_update(update: Update) -> Incoming | None:
    """What to do with an update; None for updates the assistant ignores."""
    if update.callback_query:
        query = update.callback_query
        chat = query.message.chat if query.message else None
        if chat is not None and chat.type != ChatType.PRIVATE:
            return None
        return Incoming(str(chat.id if chat else query.from_user.id), callback_query=query)
    message = update.message or update.edited_message
    if message is None or message.chat.type != ChatType.PRIVATE:
        return None
    if update.edited_message and message.location:
        return None  # a live location moving
    text = message_text(message)
    chat_id = str(message.chat.id)
    return Incoming(chat_id, text=text) if text else Incoming(chat_id, response=TEXT_ONLY)


def metadata(update: Update) -> dict[str, Any]:
    user = update.effective_user
    return {
        "telegram": {
            "update_id": update.update_id,
            "chat_id": update.effective_chat.id if update.effective_chat else None,
            "user_id": user.id if user else None,
            "username": user.username if user else None,
            "first_name": user.first_name if user else None,
            "language_code": user.language_code if user else None,
            "edited": update.edited_message is not None,
            "button": update.callback_query is not None,
        }
    }


async def resolve_callback(agent: Agent, chat_id: str, query: CallbackQuery) -> str | None:
    """The payload behind a pressed button, or the button's title when it cannot be found."""
    data = query.data or ""
    if not data.startswith(DIGEST_PREFIX):
        return data or None
    tracker = await agent.tracker_store.retrieve(chat_id) if agent.tracker_store else None
    for event in reversed(tracker.events if tracker else []):
        if isinstance(event, BotUttered):
            for button in (event.data or {}).get("buttons") or []:
                payload = str(button.get("payload") or "")
                if payload and callback_data(payload) == data:
                    return payload
    # A button from an earlier session: its title is what the customer meant, in words.
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            if button.callback_data == data:
                return str(button.text)
    return None
