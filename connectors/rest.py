"""The REST channel (`POST /webhooks/rest/webhook`), with input checks and the reply guard.

Same request and answer as Rasa's own REST channel (`{"sender": …, "message": …}` in, a list
of bot messages out), so integrations and tests written for it keep working. Differences: a
malformed request gets a 400 with a JSON error instead of a crash, an empty message gets a
prompt without a round through the model, a turn that produces nothing gets an apology, and
an optional `message_id` makes retries safe: a delivery seen before is answered from the
conversation instead of being processed twice.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.guard import EMPTY, domain_text, handle_guarded

MAX_MESSAGE_CHARS = 100_000


class GuardedRestInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "rest"

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
                return _error("the body must be a JSON object with sender and message")
            sender, text = body.get("sender", "default"), body.get("message")
            if not isinstance(sender, str) or not sender.strip() or len(sender) > 200:
                return _error("sender must be a non-empty string of at most 200 characters")
            if not isinstance(text, str):
                return _error("message must be a string")
            if len(text) > MAX_MESSAGE_CHARS:
                return _error(f"message is longer than {MAX_MESSAGE_CHARS} characters")
            message_id = body.get("message_id")
            if message_id is not None and (
                not isinstance(message_id, str) or not message_id.strip() or len(message_id) > 200
            ):
                return _error("message_id must be a non-empty string of at most 200 characters")
            agent = request.app.ctx.agent
            if not text.strip():
                return response.json([{"recipient_id": sender, "text": domain_text(agent, EMPTY)}])
            if message_id:
                # A retried delivery: answer as the first time, without running the turn again
                # (a second anti-counterfeit query or booking must not come from a retry).
                if (sender, message_id) in _in_flight:
                    return response.json([])
                earlier = await replies_to(agent, sender, message_id)
                if earlier is not None:
                    return response.json(earlier)
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                sender,
                input_channel=self.name(),
                message_id=message_id,
                metadata=self.get_metadata(request),
            )
            _in_flight.add((sender, message_id))
            try:
                await handle_guarded(agent, on_new_message, message)
            finally:
                _in_flight.discard((sender, message_id))
            return response.json(collector.messages)

        return webhook

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = (request.json or {}).get("metadata")
        return metadata if isinstance(metadata, dict) else None


# Deliveries being processed in this process; a duplicate arriving meanwhile gets no reply of
# its own (the first delivery's request carries the answer).
_in_flight: set[tuple[str, str | None]] = set()
_REPLY_FIELDS = ("buttons", "quick_replies", "image", "attachment", "elements", "custom")


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
            replies.append(reply)
    return replies


def _error(message: str) -> HTTPResponse:
    return response.json({"error": {"code": "bad_request", "message": message}}, status=400)
