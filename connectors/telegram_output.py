"""Telegram replies: the bot's messages rendered for the Bot API and sent with a timeout.

Replies are plain text, without `parse_mode`: the domain's texts are written for every channel
and carry no markup, so MarkdownV2 would only add a way to fail (one unescaped "." rejects the
whole message) and let a customer's own words, quoted back, change the formatting. Long texts
are split at Telegram's 4096-unit limit on paragraph, line or sentence boundaries, never inside
a character or grapheme; buttons become inline keyboards (see `callback_data`). Messages are
paced to Telegram's limits (`connectors/telegram_pacing.py`). A failed Bot API call is logged
and never stops the turn.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import regex  # type: ignore[import-untyped]  # Rasa's own dependency; \X finds graphemes
from rasa.core.channels.channel import OutputChannel
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ChatAction
from telegram.error import RetryAfter, TelegramError

from connectors.telegram_files import FileSettings, fetch
from connectors.telegram_pacing import Pacer

# One logger for the whole channel, whichever of its modules logs.
log = logging.getLogger("connectors.telegram")

# Telegram counts message length in UTF-16 code units (an emoji outside the BMP counts 2).
MAX_TEXT_UNITS = 4096
MAX_CALLBACK_BYTES = 64
# Marks a callback_data that is a digest of a longer payload, not the payload itself.
DIGEST_PREFIX = "#"
# A flood-control wait longer than this is not worth holding the turn for.
MAX_RETRY_AFTER = 10.0


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_BREAKS = (
    re.compile(r"\n\s*\n"),  # paragraph
    re.compile(r"\n"),  # line
    re.compile(r"[。！？!?；;…]+[”’」』）)\"']*|[.](?=\s)"),  # sentence
    re.compile(r"[，,、：:]|\s"),  # clause or word
)


def split_text(text: str, limit: int = MAX_TEXT_UNITS) -> list[str]:
    """Pieces of at most `limit` UTF-16 units that join back into `text`.

    Each piece ends at the last paragraph, line, sentence or clause break of its second half
    and always at a grapheme boundary (an emoji with skin tone or a flag is never cut).
    """
    pieces: list[str] = []
    rest = text
    while utf16_units(rest) > limit:
        boundaries, used = [], 0
        for cluster in regex.finditer(r"\X", rest):
            used += utf16_units(cluster.group())
            if used > limit:
                break
            boundaries.append(cluster.end())
        if not boundaries:
            # One grapheme longer than a message (thousands of combining marks): cut it by
            # code points, which still never splits a surrogate pair.
            end = 0
            while utf16_units(rest[: end + 1]) <= limit:
                end += 1
            boundaries = [end]
        window, allowed = rest[: boundaries[-1]], set(boundaries)
        cut = boundaries[-1]
        for pattern in _BREAKS:
            ends = [m.end() for m in pattern.finditer(window) if m.end() in allowed]
            if ends and ends[-1] >= len(window) // 2:
                cut = ends[-1]
                break
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def callback_data(payload: str) -> str:
    """What a button carries to Telegram: the payload itself, or a digest when it is too long.

    Telegram keeps at most 64 bytes per button. A digest is resolved through the bot messages
    stored in the conversation (`telegram_updates.resolve_callback`), so it survives restarts
    and works in any Rasa process, unlike a table in memory.
    """
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES and not payload.startswith(DIGEST_PREFIX):
        return payload
    digest = hashlib.sha256(payload.encode("utf-8")).digest()[:18]
    return DIGEST_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")


def keyboard(buttons: list[dict[str, Any]]) -> InlineKeyboardMarkup:
    """One button per row: Chinese titles are long and rows are narrow on a phone."""
    rows = []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or "")
        if button.get("url"):
            rows.append([InlineKeyboardButton(title, url=str(button["url"]))])
        else:
            payload = str(button.get("payload") or title)
            rows.append([InlineKeyboardButton(title, callback_data=callback_data(payload))])
    return InlineKeyboardMarkup(rows)


class TelegramOutput(OutputChannel):
    """Sends the bot's messages to one Telegram chat (the conversation's sender id)."""

    def __init__(
        self, bot: Bot, files: FileSettings | None = None, pacer: Pacer | None = None
    ) -> None:
        self.bot = bot
        # Where an agent's photo or file is fetched from (the backend), to send it on.
        self.files = files
        # The channel's one pacer (shared by every turn and by the outbox's notices).
        self.pacer = pacer
        self._typing: asyncio.Future[Any] | None = None

    @classmethod
    def name(cls) -> str:
        return "telegram"

    async def _send(
        self, what: str, call: Callable[[], Awaitable[Any]], chat: str | None = None
    ) -> Any:
        """One Bot API call; a failure is logged and swallowed so the turn goes on.

        A message to `chat` waits its turn under the pacer. Flood control (429) with a short
        wait is waited out and the call made once more.
        """
        if what in ("sendMessage", "sendPhoto", "sendDocument"):
            # "typing…" arriving after the reply would hang under it for five seconds.
            await self.flush()
            if self.pacer is not None and chat is not None:
                await self.pacer.wait(chat)
        for attempt in (1, 2):
            try:
                return await call()
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after)
                log.warning("telegram %s: flood control, retry after %.1f s", what, wait)
                if attempt == 2 or wait > MAX_RETRY_AFTER:
                    return None
                await asyncio.sleep(wait)
            except TelegramError as exc:
                log.warning("telegram %s failed: %s: %s", what, type(exc).__name__, exc)
                return None
        return None

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """An agent's photo or file (`custom.attachment`, from the desk) is sent as one; its
        name, the message's text, only if the file cannot be fetched."""
        custom = message.get("custom")
        attachment = custom.get("attachment") if isinstance(custom, dict) else None
        if isinstance(attachment, dict) and isinstance(attachment.get("id"), str):
            data = await fetch(self.files, attachment["id"]) if self.files else None
            if data is not None:
                name = str(attachment.get("name") or "file")
                if attachment.get("image"):
                    call = partial(self.bot.send_photo, recipient_id, InputFile(data, name))
                    await self._send("sendPhoto", call, recipient_id)
                else:
                    doc = InputFile(data, name)
                    await self._send(
                        "sendDocument",
                        partial(self.bot.send_document, recipient_id, doc),
                        recipient_id,
                    )
                return
        await super().send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for piece in split_text(text):
            if piece.strip():
                await self._send(
                    "sendMessage",
                    partial(self.bot.send_message, recipient_id, piece),
                    recipient_id,
                )

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        # Telegram needs text on a message with a keyboard; the keyboard goes on the last piece.
        pieces = [p for p in split_text(text or "") if p.strip()] or ["👇"]
        for piece in pieces[:-1]:
            await self.send_text_message(recipient_id, piece)
        await self._send(
            "sendMessage",
            lambda: self.bot.send_message(
                chat_id=recipient_id, text=pieces[-1], reply_markup=keyboard(buttons)
            ),
            recipient_id,
        )

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send(
            "sendPhoto",
            lambda: self.bot.send_photo(chat_id=recipient_id, photo=image),
            recipient_id,
        )

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        # The default would show the customer raw JSON meant for another channel.
        log.debug("telegram: custom payload for %s not sent: %s", recipient_id, json_message)

    def start_typing(self, chat_id: str) -> None:
        """Shows "typing…" while the turn runs, without waiting for Telegram to confirm it."""
        self._typing = asyncio.ensure_future(
            self._send(
                "sendChatAction",
                lambda: self.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING),
            )
        )

    async def flush(self) -> None:
        if self._typing is not None:
            typing, self._typing = self._typing, None
            await typing

    async def answer_callback(self, query_id: str) -> None:
        await self._send(
            "answerCallbackQuery",
            lambda: self.bot.answer_callback_query(callback_query_id=query_id),
        )


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
