"""The REST channel (`POST /webhooks/rest/webhook`), with input checks and the reply guard.

Same request and answer as Rasa's own REST channel (`{"sender": …, "message": …}` in, a list
of bot messages out), so integrations and tests written for it keep working. Differences: a
malformed request gets a 400 with a JSON error instead of a crash, an empty message gets a
prompt without a round through the model, a turn that produces nothing gets an apology, and
an optional `message_id` makes retries safe (`connectors/deliveries.py`): a delivery seen before
is answered from the conversation instead of being processed twice.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.deliveries import Deliveries
from connectors.guard import EMPTY, Guard, domain_text, error_response

MAX_MESSAGE_CHARS = 100_000


class GuardedRestInput(InputChannel):
    """The `rest` channel; its only setting is the guard's (`CHANNEL_REPLY_TIMEOUT`)."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(Guard.from_env())

    def __init__(self, guard: Guard | None = None) -> None:
        self.guard = guard or Guard()
        self.deliveries = Deliveries()

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
            agent = request.app.ctx.agent
            if not text.strip():
                return response.json([{"recipient_id": sender, "text": domain_text(agent, EMPTY)}])
            if message_id:
                # A retried delivery: answer as the first time, without running the turn again
                # (a second anti-counterfeit query or booking must not come from a retry).
                earlier = await self.deliveries.claim(agent, sender, message_id)
                if earlier is not None:
                    return response.json(earlier)
            try:
                collector = CollectingOutputChannel()
                message = UserMessage(
                    text,
                    collector,
                    sender,
                    input_channel=self.name(),
                    message_id=message_id,
                    metadata=self.get_metadata(request),
                )
                await self.guard.handle(agent, on_new_message, message)
            finally:
                if message_id:
                    self.deliveries.release(sender, message_id)
            return response.json(collector.messages)

        return webhook

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = (request.json or {}).get("metadata")
        return metadata if isinstance(metadata, dict) else None


def _bad_request(message: str) -> HTTPResponse:
    return error_response(400, "bad_request", message)
