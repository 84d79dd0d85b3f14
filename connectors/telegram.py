"""The Telegram channel (`POST /webhooks/telegram/webhook`), on python-telegram-bot as a library.

Why not Rasa's own Telegram channel: it does not check Telegram's secret token, processes a
redelivered update twice, and calls the Telegram API on every update. This one:

- reads its credentials from the environment only (`TELEGRAM_TOKEN`, `TELEGRAM_SECRET_TOKEN`,
  optional `TELEGRAM_API_URL`); without them the channel is off, Rasa starts as usual and the
  webhook answers 503;
- accepts an update only with the right `X-Telegram-Bot-Api-Secret-Token` (constant-time
  comparison; 403 and nothing processed otherwise);
- processes each `update_id` once: the id is stored on the user event (`tg<update_id>`) and
  looked up in the conversation, so a redelivery is skipped across restarts and Rasa processes;
- processes the update before answering Telegram, within the reply guard's time limit
  (`CHANNEL_REPLY_TIMEOUT`): an update Telegram saw acknowledged has been stored, and one that
  crashed with its process is delivered again. Answering first and working in the background
  would lose such an update, with Telegram believing it delivered;
- reads an edited message as a new message from the customer (someone who corrects a serial
  number wants the corrected one used), except live-location updates, which arrive as edits
  every few seconds and would flood the chat with station lists;
- turns a shared location into `/share_location{"location": "lat,lon"}`, the caption of a photo
  into its text, and answers other media (stickers, voice, photos without caption) with
  `utter_text_only`;
- only serves private chats: the assistant is one conversation per customer, and in a group it
  would answer everybody's messages.

Replies are plain text, without `parse_mode`: the domain's texts are written for every channel
and carry no markup, so MarkdownV2 would only add a way to fail (one unescaped "." rejects the
whole message) and let a customer's own words, quoted back, change the formatting. Long texts
are split at Telegram's 4096-unit limit on paragraph, line or sentence boundaries, never inside
a character or grapheme; buttons become inline keyboards (see `callback_data`).

`set_webhook` and `poll` (run by `scripts/telegram_cli.py`: `make set-webhook`,
`make telegram-poll`) are at the end; polling feeds each update to this same webhook.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import inspect
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
import regex  # type: ignore[import-untyped]  # Rasa's own dependency; \X finds graphemes
from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from connectors.guard import domain_text, handle_guarded, is_paused, reply_timeout
from connectors.rest import replies_to

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What Telegram accepts as a webhook secret (setWebhook).
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
# Telegram counts message length in UTF-16 code units (an emoji outside the BMP counts 2).
MAX_TEXT_UNITS = 4096
MAX_CALLBACK_BYTES = 64
# Marks a callback_data that is a digest of a longer payload, not the payload itself.
DIGEST_PREFIX = "#"
TEXT_ONLY = "utter_text_only"
BUTTON_EXPIRED = "utter_button_expired"
# A flood-control wait longer than this is not worth holding the turn for.
MAX_RETRY_AFTER = 10.0
# Commands a Telegram user sends by tapping the menu; both mean "what can you do".
GREETING_COMMANDS = ("/start", "/help")


@dataclass(frozen=True)
class TelegramSettings:
    token: str | None
    secret_token: str | None
    api_url: str | None
    webhook_url: str | None
    timeout: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelegramSettings:
        env = os.environ if env is None else env
        return cls(
            token=env.get("TELEGRAM_TOKEN") or None,
            secret_token=env.get("TELEGRAM_SECRET_TOKEN") or None,
            api_url=env.get("TELEGRAM_API_URL") or None,
            webhook_url=env.get("TELEGRAM_WEBHOOK_URL") or None,
            timeout=float(env.get("TELEGRAM_API_TIMEOUT") or 10),
        )

    def problem(self) -> str | None:
        """Why the channel cannot run, or None when it can."""
        if not self.token:
            return "TELEGRAM_TOKEN is not set"
        # Without a secret anybody who guesses the URL could talk in any customer's name.
        if not self.secret_token:
            return "TELEGRAM_SECRET_TOKEN is not set"
        if not SECRET_FORMAT.match(self.secret_token):
            return "TELEGRAM_SECRET_TOKEN must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
        return None

    def bot(self, *, poll_timeout: float = 0) -> Bot:
        """A Bot with timeouts on every call; no network I/O until it is used."""
        if not self.token:
            raise ValueError("TELEGRAM_TOKEN is not set")
        t = self.timeout
        return Bot(
            self.token,
            base_url=self.api_url or "https://api.telegram.org/bot",
            request=HTTPXRequest(
                connect_timeout=t, read_timeout=t, write_timeout=t, pool_timeout=t
            ),
            # A long poll holds its request open for poll_timeout seconds by design.
            get_updates_request=HTTPXRequest(
                connect_timeout=t, read_timeout=t + poll_timeout, write_timeout=t, pool_timeout=t
            ),
        )


# --- replies ---------------------------------------------------------------------------------


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
    stored in the conversation (`resolve_callback`), so it survives restarts and works in any
    Rasa process, unlike a table in memory.
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

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._typing: asyncio.Future[Any] | None = None

    @classmethod
    def name(cls) -> str:
        return "telegram"

    async def _send(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """One Bot API call; a failure is logged and swallowed so the turn goes on.

        Flood control (429) with a short wait is waited out and the call made once more.
        """
        if what in ("sendMessage", "sendPhoto"):
            # "typing…" arriving after the reply would hang under it for five seconds.
            await self.flush()
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

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for piece in split_text(text):
            if piece.strip():
                await self._send("sendMessage", partial(self.bot.send_message, recipient_id, piece))

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
        )

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send(
            "sendPhoto", lambda: self.bot.send_photo(chat_id=recipient_id, photo=image)
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


# --- updates ---------------------------------------------------------------------------------


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


class TelegramInput(InputChannel):
    """Telegram updates in (webhook, or forwarded by `scripts/telegram.py poll`), replies out."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        # credentials.yml names the channel without values: Rasa fails on an unset ${VAR}, and
        # the system must start without Telegram. The environment is the only source.
        settings = TelegramSettings.from_env()
        problem = settings.problem()
        if problem:
            log.info("Telegram channel is off: %s", problem)
        else:
            log.info("Telegram channel is on at /webhooks/telegram/webhook")
        return cls(settings)

    def __init__(self, settings: TelegramSettings) -> None:
        self.settings = settings
        self.bot: Bot | None = None if settings.problem() else settings.bot()
        self.in_flight: set[tuple[str, str]] = set()

    def get_output_channel(self) -> OutputChannel | None:
        # Used by Rasa's HTTP API (output_channel=latest) to reach a Telegram customer.
        return TelegramOutput(self.bot) if self.bot else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        module = inspect.getmodule(self)
        webhook = Blueprint(
            f"custom_webhook_{type(self).__name__}", module.__name__ if module else None
        )

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.bot else "off"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.bot is None or self.settings.secret_token is None:
                return _error(503, "telegram_off", "the Telegram channel is not configured")
            given = (request.headers.get(SECRET_HEADER) or "").encode("utf-8")
            if not hmac.compare_digest(given, self.settings.secret_token.encode("utf-8")):
                log.warning("telegram: update with a wrong or missing secret token refused")
                return _error(403, "forbidden", "wrong or missing secret token")
            try:
                body = request.json
            except Exception:  # sanic raises its own error type for bad JSON
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
                return _error(400, "bad_request", "the body must be a Telegram Update")
            try:
                update = Update.de_json(body, self.bot)
            except Exception as exc:  # the library's parsers raise various errors
                log.warning("telegram: unreadable update %s: %s", body.get("update_id"), exc)
                return _error(400, "bad_request", "the body must be a Telegram Update")
            await self.process(request.app.ctx.agent, on_new_message, update)
            return response.json({"ok": True})

        @webhook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            # Never initialised (that would call getMe at start-up): close the HTTP pool only.
            if self.bot is not None:
                await self.bot.request.shutdown()

        return webhook

    async def process(
        self,
        agent: Agent,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        update: Update,
    ) -> None:
        assert self.bot is not None
        incoming = read_update(update)
        if incoming is None:
            log.info("telegram: update %s ignored (not a private message)", update.update_id)
            return
        output = TelegramOutput(self.bot)
        sender, delivery = incoming.chat_id, f"tg{update.update_id}"
        extras: list[asyncio.Future[Any]] = []
        if incoming.callback_query:
            # Stops the spinner on the customer's button at once, even for a redelivery.
            extras.append(asyncio.ensure_future(output.answer_callback(incoming.callback_query.id)))
        try:
            if (sender, delivery) in self.in_flight or await replies_to(
                agent, sender, delivery
            ) is not None:
                log.info("telegram: update %s already processed", update.update_id)
                return
            text = incoming.text
            if incoming.callback_query:
                text = await resolve_callback(agent, sender, incoming.callback_query)
                if text is None:
                    incoming.response = BUTTON_EXPIRED
            if incoming.response == TEXT_ONLY and await is_paused(agent, sender):
                # A person holds the conversation: the bot must not answer, and the agent
                # should see that something arrived.
                text, incoming.response = media_marker(update), None
            if incoming.response or not text:
                await output.send_text_message(
                    sender, domain_text(agent, incoming.response or TEXT_ONLY)
                )
                return
            output.start_typing(sender)
            message = UserMessage(
                text,
                output,
                sender,
                input_channel=self.name(),
                message_id=delivery,
                metadata=metadata(update),
            )
            # A redelivery arriving while this one runs is not in the tracker yet.
            self.in_flight.add((sender, delivery))
            try:
                await handle_guarded(agent, on_new_message, message)
            finally:
                self.in_flight.discard((sender, delivery))
        finally:
            await asyncio.gather(output.flush(), *extras, return_exceptions=True)


def _error(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": {"code": code, "message": message}}, status=status)


# --- polling and set-webhook (scripts/telegram_cli.py) ---------------------------------------
#
# Polling forwards every update, unchanged, to the webhook above with the secret, so both modes
# run one code path. An update is confirmed to Telegram (by asking for the next offset) only
# once Rasa took it; Telegram keeps unconfirmed updates for a day, so a crash on either side
# loses nothing, and a second delivery is skipped by its update_id.

POLL_SECONDS = 30
MAX_BACKOFF = 30.0


class Refused(Exception):
    """Rasa refused the secret: polling cannot work until the settings are fixed."""


async def set_webhook(settings: TelegramSettings) -> str:
    """Registers the webhook with the secret and the update types the channel reads."""
    if problem := settings.problem():
        raise SystemExit(f"cannot set the webhook: {problem}")
    if not settings.webhook_url or not settings.webhook_url.startswith("https://"):
        raise SystemExit("TELEGRAM_WEBHOOK_URL must be the public https:// address of the webhook")
    assert settings.secret_token
    async with settings.bot() as bot:
        await bot.set_webhook(
            url=settings.webhook_url,
            secret_token=settings.secret_token,
            allowed_updates=list(ALLOWED_UPDATES),
        )
        info = await bot.get_webhook_info()
    return f"webhook set: {info.url} ({info.pending_update_count} updates waiting)"


async def forward(session: aiohttp.ClientSession, url: str, secret: str, body: str) -> bool:
    """Hands one update to Rasa's webhook; True when it need not be sent again."""
    try:
        async with session.post(
            url,
            data=body.encode("utf-8"),
            headers={"Content-Type": "application/json", SECRET_HEADER: secret},
            # The channel answers within the reply guard's limit, plus sending the replies.
            timeout=aiohttp.ClientTimeout(total=reply_timeout() + 30),
        ) as reply:
            if reply.status == 200:
                return True
            text = (await reply.text())[:300]
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        log.warning("Rasa did not take the update: %s", exc or type(exc).__name__)
        return False
    if reply.status == 403:
        raise Refused(f"Rasa refused the secret token ({url}): {text}")
    if reply.status == 400:
        # Malformed for this channel; sending it again would not change that.
        log.error("Rasa rejected an update as malformed, skipped: %s", text)
        return True
    log.warning("Rasa answered %s, the update will be sent again: %s", reply.status, text)
    return False


async def poll_once(
    bot: Bot,
    session: aiohttp.ClientSession,
    forward_url: str,
    secret: str,
    offset: int | None,
    *,
    seconds: int = POLL_SECONDS,
) -> tuple[int | None, bool]:
    """One getUpdates round, each update forwarded in order.

    Returns the offset to ask for next (which confirms the updates before it to Telegram) and
    whether every update went through.
    """
    updates = await bot.get_updates(
        offset=offset, timeout=seconds, allowed_updates=list(ALLOWED_UPDATES)
    )
    for update in updates:
        if not await forward(session, forward_url, secret, update.to_json()):
            return update.update_id, False
        offset = update.update_id + 1
    return offset, True


async def poll(
    settings: TelegramSettings,
    forward_url: str,
    *,
    stop: asyncio.Event,
    seconds: int = POLL_SECONDS,
) -> None:
    if problem := settings.problem():
        raise SystemExit(f"cannot poll: {problem}")
    assert settings.secret_token
    async with settings.bot(poll_timeout=seconds) as bot, aiohttp.ClientSession() as session:
        # getUpdates is refused while a webhook is set.
        await bot.delete_webhook(drop_pending_updates=False)
        log.info("polling Telegram as @%s, forwarding to %s", bot.username, forward_url)
        offset: int | None = None
        backoff = 1.0
        while not stop.is_set():
            try:
                offset, delivered = await poll_once(
                    bot, session, forward_url, settings.secret_token, offset, seconds=seconds
                )
            except TelegramError as exc:
                log.warning("getUpdates failed: %s", exc)
                delivered = False
            if delivered:
                backoff = 1.0
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
        if offset is not None:
            # Confirms what was forwarded, so a restart does not fetch it again.
            try:
                await bot.get_updates(offset=offset, timeout=0, limit=1)
            except TelegramError as exc:
                log.warning("could not confirm the last updates: %s", exc)
