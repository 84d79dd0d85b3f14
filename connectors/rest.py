"""The REST channel (`POST /webhooks/rest/webhook`), with input checks and the reply guard.

Same request and answer as Rasa's own REST channel (`{"sender": …, "message": …}` in, a list
of bot messages out), so integrations and tests written for it keep working. Differences: a
malformed request gets a 400 with a JSON error instead of a crash, an empty message gets a
prompt without a round through the model, a turn that produces nothing gets an apology, and
an optional `message_id` makes retries safe (`connectors/deliveries.py`): a delivery seen before
is answered from the conversation instead of being processed twice.

It is for trusted integrations, never the public: every call needs `Authorization: Bearer
<REST_CHANNEL_TOKEN>` (without the setting the channel refuses everything), a message is at
most `MAX_MESSAGE_CHARS` long and rates are limited (`connectors/limits.py`), and a sender id
that belongs to a conversation of another channel (a web-chat session, a Telegram chat) is
refused: the id alone must never let anyone speak or read in someone else's conversation.
"""

from __future__ import annotations

import hmac
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.contracts.cards import is_card
from connectors.deliveries import Deliveries
from connectors.guard import EMPTY, Guard, domain_text, error_response
from connectors.limits import MAX_MESSAGE_CHARS, Limits, Throttle

OWN_SENDER_SECONDS = 300.0
OWN_SENDERS_KEPT = 100_000


@dataclass(frozen=True)
class RestSettings:
    """The channel's token, the guard's timeout and the rate limits; read once."""

    token: str | None = field(default=None, repr=False)
    guard: Guard = field(default_factory=Guard)
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RestSettings:
        env = os.environ if env is None else env
        return cls(
            token=env.get("REST_CHANNEL_TOKEN") or None,
            guard=Guard.from_env(env),
            limits=Limits.from_env(env),
        )


class GuardedRestInput(InputChannel):
    """The `rest` channel (settings: REST_CHANNEL_TOKEN, CHANNEL_REPLY_TIMEOUT, rates)."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(RestSettings.from_env())

    def __init__(self, settings: RestSettings | None = None) -> None:
        self.settings = settings or RestSettings()
        self.guard = self.settings.guard
        self.throttle = Throttle(self.settings.limits)
        self.deliveries = Deliveries()
        self.own = OwnSenders()

    def _authorised(self, request: Request) -> bool:
        token = self.settings.token
        scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
        return (
            bool(token)
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), (token or "").encode())
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        module = inspect.getmodule(self)
        webhook = Blueprint(
            f"custom_webhook_{type(self).__name__}", module.__name__ if module else None
        )

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.settings.token:
                return error_response(
                    503, "rest_not_configured", "the REST channel has no REST_CHANNEL_TOKEN"
                )
            if not self._authorised(request):
                return error_response(401, "unauthorized", "the REST channel needs its token")
            try:
                body = request.json
            except Exception:  # sanic raises its own error type for bad JSON
                body = None
            if not isinstance(body, dict):
                return _bad_request("the body must be a JSON object with sender and message")
            sender, text = body.get("sender", "default"), body.get("message")
            if not isinstance(sender, str) or not sender.strip() or len(sender) > 200:
                return _bad_request("sender must be a non-empty string of at most 200 characters")
            if not isinstance(text, str):
                return _bad_request("message must be a string")
            if len(text) > MAX_MESSAGE_CHARS:
                return _bad_request(f"message is longer than {MAX_MESSAGE_CHARS} characters")
            message_id = body.get("message_id")
            if message_id is not None and (
                not isinstance(message_id, str) or not message_id.strip() or len(message_id) > 200
            ):
                return _bad_request(
                    "message_id must be a non-empty string of at most 200 characters"
                )
            wait = self.throttle.wait(sender, request.ip)
            if wait:
                refused = error_response(
                    429, "rate_limited", f"too many messages; retry in {wait} s"
                )
                refused.headers["Retry-After"] = str(wait)
                return refused
            agent = request.app.ctx.agent
            if not self.own.known(sender) and await _of_another_channel(agent, sender, self.name()):
                return error_response(
                    403, "other_channel", "this conversation belongs to another channel"
                )
            if not text.strip():
                return response.json(
                    [{"recipient_id": sender, "text": domain_text(agent, EMPTY, self.name())}]
                )
            if message_id:
                # A retried delivery: answer as the first time, without running the turn again
                # (a second anti-counterfeit query or booking must not come from a retry).
                earlier = await self.deliveries.claim(agent, sender, message_id)
                if earlier is not None:
                    return response.json(earlier)
            try:
                collector = TextCollectingOutputChannel()
                message = UserMessage(
                    text,
                    collector,
                    sender,
                    input_channel=self.name(),
                    message_id=message_id,
                    metadata=self.get_metadata(request),
                )
                await self.guard.handle(agent, on_new_message, message)
                self.own.add(sender)
            finally:
                if message_id:
                    self.deliveries.release(sender, message_id)
            return response.json(collector.messages)

        return webhook

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = (request.json or {}).get("metadata")
        return metadata if isinstance(metadata, dict) else None


class OwnSenders:
    """Senders whose conversation this channel holds, remembered for a while.

    Checking that a sender's conversation did not start on another channel reads the whole
    conversation; a conversation keeps its channel, so the check is made again only after
    OWN_SENDER_SECONDS (an erased conversation's id may be taken anew) or when too many
    senders are remembered.
    """

    def __init__(self, seconds: float = OWN_SENDER_SECONDS, most: int = OWN_SENDERS_KEPT) -> None:
        self.seconds, self.most = seconds, most
        self._until: dict[str, float] = {}

    def known(self, sender: str) -> bool:
        return self._until.get(sender, 0.0) > time.monotonic()

    def add(self, sender: str) -> None:
        if len(self._until) >= self.most:
            self._until.clear()
        self._until[sender] = time.monotonic() + self.seconds


async def _of_another_channel(agent: Agent, sender: str, channel: str) -> bool:
    """Whether `sender` names a conversation a customer started on another channel."""
    if agent.tracker_store is None:
        return False
    tracker = await agent.tracker_store.retrieve(sender)
    return any(
        isinstance(event, UserUttered) and event.input_channel not in (None, channel)
        for event in (tracker.events if tracker else ())
    )


class TextCollectingOutputChannel(CollectingOutputChannel):
    """Rasa's collector without our cards: a REST client gets the text as before, and not a
    second message holding only the card's data (`bot.contracts.cards`)."""

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        if not is_card(json_message):
            await super().send_custom_json(recipient_id, json_message, **kwargs)


def _bad_request(message: str) -> HTTPResponse:
    return error_response(400, "bad_request", message)
