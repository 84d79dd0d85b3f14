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

Reading an update is `connectors/telegram_updates.py`; the replies (plain text, split at
Telegram's limit, buttons as inline keyboards) are `connectors/telegram_output.py`; registering
the webhook and polling (`scripts/telegram_cli.py`: `make set-webhook`, `make telegram-poll`)
are `connectors/telegram_ops.py`.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, Update
from telegram.request import HTTPXRequest

from connectors import telegram_files
from connectors.attachments import announce
from connectors.deliveries import Deliveries
from connectors.guard import Guard, domain_text, error_response, is_paused
from connectors.limits import MAX_MESSAGE_CHARS, TOO_FAST, TOO_LONG, Limits, Throttle
from connectors.telegram_output import TelegramOutput
from connectors.telegram_pacing import Pace, Pacer
from connectors.telegram_updates import (
    TEXT_ONLY,
    Incoming,
    media_marker,
    metadata,
    read_update,
    resolve_callback,
)

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What Telegram accepts as a webhook secret (setWebhook).
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
BUTTON_EXPIRED = "utter_button_expired"


@dataclass(frozen=True)
class TelegramSettings:
    """The channel's and the operator commands' settings, read once from the environment."""

    token: str | None
    secret_token: str | None
    api_url: str | None
    webhook_url: str | None
    timeout: float
    guard: Guard = field(default_factory=Guard)
    limits: Limits = field(default_factory=Limits)
    files: telegram_files.FileSettings = field(
        default_factory=lambda: telegram_files.FileSettings(None, None)
    )
    pace: Pace = field(default_factory=Pace)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelegramSettings:
        env = os.environ if env is None else env
        return cls(
            token=env.get("TELEGRAM_TOKEN") or None,
            secret_token=env.get("TELEGRAM_SECRET_TOKEN") or None,
            api_url=env.get("TELEGRAM_API_URL") or None,
            webhook_url=env.get("TELEGRAM_WEBHOOK_URL") or None,
            timeout=float(env.get("TELEGRAM_API_TIMEOUT") or 10),
            guard=Guard.from_env(env),
            limits=Limits.from_env(env),
            files=telegram_files.FileSettings.from_env(env),
            pace=Pace.from_env(env),
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
        base_url = self.api_url or "https://api.telegram.org/bot"
        return Bot(
            self.token,
            base_url=base_url,
            # Files (a customer's photo) live beside the API: .../bot<token> → .../file/bot<token>.
            base_file_url=base_url.removesuffix("/bot") + "/file/bot",
            request=HTTPXRequest(
                connect_timeout=t, read_timeout=t, write_timeout=t, pool_timeout=t
            ),
            # A long poll holds its request open for poll_timeout seconds by design.
            get_updates_request=HTTPXRequest(
                connect_timeout=t, read_timeout=t + poll_timeout, write_timeout=t, pool_timeout=t
            ),
        )


class TelegramInput(InputChannel):
    """Telegram updates in (webhook, or forwarded by `telegram_cli.py poll`), replies out."""

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
        self.deliveries = Deliveries()
        self.throttle = Throttle(settings.limits)
        # One per channel: every reply and every notice to Telegram goes through it.
        self.pacer = Pacer(settings.pace)

    def get_output_channel(self) -> OutputChannel | None:
        # Used by Rasa's HTTP API (output_channel=latest) to reach a Telegram customer.
        return TelegramOutput(self.bot, self.settings.files, self.pacer) if self.bot else None

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
                return error_response(503, "telegram_off", "the Telegram channel is not configured")
            given = (request.headers.get(SECRET_HEADER) or "").encode("utf-8")
            if not hmac.compare_digest(given, self.settings.secret_token.encode("utf-8")):
                log.warning("telegram: update with a wrong or missing secret token refused")
                return error_response(403, "forbidden", "wrong or missing secret token")
            try:
                body = request.json
            except Exception:  # sanic raises its own error type for bad JSON
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
                return error_response(400, "bad_request", "the body must be a Telegram Update")
            try:
                update = Update.de_json(body, self.bot)
            except Exception as exc:  # the library's parsers raise various errors
                log.warning("telegram: unreadable update %s: %s", body.get("update_id"), exc)
                return error_response(400, "bad_request", "the body must be a Telegram Update")
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
        output = TelegramOutput(self.bot, self.settings.files, self.pacer)
        sender, delivery = incoming.chat_id, f"tg{update.update_id}"
        extras: list[asyncio.Future[Any]] = []
        if incoming.callback_query:
            # Stops the spinner on the customer's button at once, even for a redelivery.
            extras.append(asyncio.ensure_future(output.answer_callback(incoming.callback_query.id)))
        try:
            if await self.deliveries.claim(agent, sender, delivery) is not None:
                log.info("telegram: update %s already processed", update.update_id)
                return
            try:
                await self._answer(agent, on_new_message, update, incoming, output, delivery)
            finally:
                self.deliveries.release(sender, delivery)
        finally:
            await asyncio.gather(output.flush(), *extras, return_exceptions=True)

    async def _answer(
        self,
        agent: Agent,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        update: Update,
        incoming: Incoming,
        output: TelegramOutput,
        delivery: str,
    ) -> None:
        """A response for what the assistant cannot read, or the update's turn, guarded."""
        sender, text = incoming.chat_id, incoming.text
        if incoming.callback_query:
            text = await resolve_callback(agent, sender, incoming.callback_query)
            if text is None:
                incoming.response = BUTTON_EXPIRED
        photo = telegram_files.photo_of(update)
        if photo is not None and self.bot is not None:
            kept = await telegram_files.keep(self.bot, self.settings.files, sender, photo)
            if kept is not None:
                shown = UserMessage(
                    f"[photo] {kept['name']}",
                    output,
                    sender,
                    input_channel=self.name(),
                    message_id=f"{delivery}-photo",
                    metadata=metadata(update),
                )
                await announce(agent, output, shown, kept, answer=not text)
                if not text:
                    return  # a caption goes on as the customer's words
        if incoming.response == TEXT_ONLY and await is_paused(agent, sender):
            # A person holds the conversation: the bot must not answer, and the agent
            # should see that something arrived.
            text, incoming.response = media_marker(update), None
        if text and not incoming.response and len(text) > MAX_MESSAGE_CHARS:
            incoming.response = TOO_LONG
        elif text and not incoming.response and self.throttle.wait(sender, None):
            incoming.response = TOO_FAST
        if incoming.response or not text:
            await output.send_text_message(
                sender, domain_text(agent, incoming.response or TEXT_ONLY, self.name())
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
        await self.settings.guard.handle(agent, on_new_message, message)
