"""The REST channel (`POST /webhooks/rest/webhook`), with input checks and the reply guard.

Same request and answer as Rasa's own REST channel (`{"sender": …, "message": …}` in, a list
of bot messages out), so integrations and tests written for it keep working. Differences: a
malformed request gets a 400 with a JSON error instead of a crash, an empty message gets a
prompt without a round through the model, and a turn that produces nothing gets an apology.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
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
            agent = request.app.ctx.agent
            if not text.strip():
                return response.json([{"recipient_id": sender, "text": domain_text(agent, EMPTY)}])
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                sender,
                input_channel=self.name(),
                metadata=self.get_metadata(request),
            )
            await handle_guarded(agent, on_new_message, message)
            return response.json(collector.messages)

        return webhook

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = (request.json or {}).get("metadata")
        return metadata if isinstance(metadata, dict) else None


def _error(message: str) -> HTTPResponse:
    return response.json({"error": {"code": "bad_request", "message": message}}, status=400)
