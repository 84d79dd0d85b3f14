"""The website chat's channel: socket.io, like Rasa's own, but a session is a signed token.

Rasa's `SocketIOInput` lets the client choose its `session_id`, so anyone who learns or guesses
an id can join that conversation and read the bot's answers. Here the socket must connect with
`auth: {"token": …}` from the backend's `POST /api/chat/sessions` (`bot/webchat.py`; both sides
check tokens with `bot/contracts/chat_tokens.py`); the conversation is the token's subject,
fixed for the life of the socket. A `session_id` sent by the client is only compared with it
and refused when it differs. The socket joins a room named after the conversation, so every
tab of the same customer and the bot's later messages (an agent's reply pushed with
`output_channel=latest`) reach the open page.

Protocol (socket.io, path `/socket.io`):
- client → `user_uttered` `{"message": str, "message_id"?: str, "metadata"?: {"display": str}}`;
  the acknowledgement is `{"status": "accepted" | "duplicate" | "refused", "error"?: code}`.
  `display` is what the page showed as the customer's bubble (a button's title for its payload).
- server → `bot_uttered` `{"text"?, "buttons"?, "quick_replies"?, "image"?, "attachment"?,
  "elements"?, "custom"?, "ts"?, "agent"?}`; `ts` is the timestamp of the tracker event, the key
  the page uses to tell a live message from the same message in the transcript; `agent` names
  the support-desk agent who wrote it (both rendered by `connectors/webchat_output.py`).
- `session_request` / `session_confirm` as in Rasa's channel (the confirmed id is the token's).
- `GET /webhooks/webchat/history` with `Authorization: Bearer <token>`: the transcript.
- A photo or file the customer sent (uploaded to the backend first, `POST
  /api/chat/attachments`) rides as `metadata.attachment` of the message that announces it;
  one an agent sent arrives as `bot_uttered` with `file` (see `connectors/webchat_output.py`).
- server → `agent_typing` `{"agent": str}` when the desk's holder types: the backend calls
  `POST /webhooks/webchat/typing` `{"conversation_id", "agent"}` with Rasa's API token
  (`RASA_TOKEN`; without one, as Rasa's own API then, loopback only).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer
from socketio.exceptions import ConnectionRefusedError

from bot.contracts.chat_tokens import (
    ChatNotConfigured,
    TokenRejected,
    bearer,
    check_secret,
    read_token,
)
from connectors.attachments import announce, attachment_of
from connectors.deliveries import Deliveries
from connectors.guard import EMPTY, Guard, domain_text, error_response
from connectors.limits import MAX_MESSAGE_CHARS, TOO_FAST, TOO_LONG, Limits, Throttle
from connectors.webchat_output import WebchatOutput, transcript

log = logging.getLogger(__name__)

USER_EVENT = "user_uttered"
# Same bound as the page's input box; the REST channel's 10,000-character test message fits.
MAX_ID_CHARS = 100
MAX_DISPLAY_CHARS = 200
TYPING_EVENT = "agent_typing"


class _Blueprint(SocketBlueprint):
    """Rasa's socket.io blueprint, remembering the app so handlers can reach the agent."""

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        self.ctx.app = app  # Sanic forbids attributes on blueprints; ctx is for this
        super().register(app, options)


def _refused(code: str) -> dict[str, str]:
    return {"status": "refused", "error": code}


@dataclass(frozen=True)
class WebchatSettings:
    """The token key and the guard's setting from the environment, the socket's path from
    `credentials.yml`; read once, when Rasa builds the channel."""

    secret: str | None
    socketio_path: str = "/socket.io"
    guard: Guard = field(default_factory=Guard)
    limits: Limits = field(default_factory=Limits)
    # Rasa's HTTP API token: the backend signs its typing signals with it.
    api_token: str | None = None

    @classmethod
    def read(
        cls, credentials: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
    ) -> WebchatSettings:
        env = os.environ if env is None else env
        credentials = credentials or {}
        return cls(
            secret=env.get("CHAT_SECRET") or None,
            api_token=env.get("RASA_TOKEN") or None,
            socketio_path=str(credentials.get("socketio_path") or "/socket.io"),
            guard=Guard.from_env(env),
            limits=Limits.from_env(env),
        )


class WebchatInput(InputChannel):
    """The `webchat` channel; `credentials.yml` needs no values (the key is CHAT_SECRET)."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(WebchatSettings.read(credentials))

    def __init__(self, settings: WebchatSettings) -> None:
        self.settings = settings
        self.sio: AsyncServer | None = None
        self.deliveries = Deliveries()
        self.throttle = Throttle(settings.limits)
        # Turns run as tasks (the socket acknowledges at once); keep them from being collected.
        self._turns: set[asyncio.Task[None]] = set()
        try:
            check_secret(settings.secret)
        except ChatNotConfigured as exc:
            log.error("%s; every web-chat socket will be refused", exc)

    def get_output_channel(self) -> OutputChannel | None:
        # No network call: the room fan-out needs only the server object of this process.
        return WebchatOutput(self.sio) if self.sio is not None else None

    def _session_of(self, token: Any) -> str:
        """The conversation a token opens; TokenRejected or ChatNotConfigured otherwise."""
        secret = check_secret(self.settings.secret)
        if not isinstance(token, str) or not token:
            raise TokenRejected("token_missing", "no chat token")
        return read_token(secret, token).session_id

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> _Blueprint:
        # CORS stays with Rasa's --cors (engine.io adding its own headers would duplicate them).
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        self.sio = sio
        webhook = _Blueprint(sio, self.settings.socketio_path, "webchat_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/history", methods=["GET"])
        async def history(request: Request) -> HTTPResponse:
            try:
                token = bearer(request.headers.get("Authorization"))
                sender = self._session_of(token)
            except ChatNotConfigured as exc:
                return error_response(503, "chat_not_configured", str(exc))
            except TokenRejected as exc:
                return error_response(401, exc.code, str(exc))
            agent: Agent = request.app.ctx.agent
            store = agent.tracker_store
            tracker = await store.retrieve_full_tracker(sender) if store else None
            events = tracker.events if tracker else []
            paused = bool(tracker and tracker.is_paused())
            return response.json(
                {"session_id": sender, "paused": paused, "messages": transcript(events)}
            )

        @webhook.route("/typing", methods=["POST"])
        async def typing(request: Request) -> HTTPResponse:
            if not self._from_backend(request.headers.get("Authorization")):
                return error_response(401, "unauthorized", "the backend's token is needed")
            body = request.json if isinstance(request.json, dict) else {}
            conversation, agent = body.get("conversation_id"), body.get("agent")
            if not isinstance(conversation, str) or not isinstance(agent, str):
                return error_response(400, "bad_request", "conversation_id and agent, as text")
            await sio.emit(TYPING_EVENT, {"agent": agent[:40]}, room=conversation)
            return response.json({"status": "sent"}, status=202)

        @sio.on("connect")
        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            try:
                sender = self._session_of(auth.get("token") if isinstance(auth, dict) else None)
            except ChatNotConfigured as exc:
                raise ConnectionRefusedError("chat_not_configured") from exc
            except TokenRejected as exc:
                log.info("web-chat socket refused: %s", exc)
                raise ConnectionRefusedError(exc.code) from exc
            await sio.save_session(sid, {"sender": sender, "client": environ.get("REMOTE_ADDR")})
            await sio.enter_room(sid, sender)

        @sio.on("session_request")
        async def session_request(sid: str, data: Any) -> None:
            sender = (await sio.get_session(sid))["sender"]
            asked = data.get("session_id") if isinstance(data, dict) else None
            if asked and asked != sender:
                await sio.emit("session_refused", {"error": "session_mismatch"}, to=sid)
                return
            await sio.emit("session_confirm", sender, to=sid)

        @sio.on(USER_EVENT)
        async def user_uttered(sid: str, data: Any) -> dict[str, str]:
            session = await sio.get_session(sid)
            sender = session["sender"]
            if not isinstance(data, dict):
                return _refused("bad_message")
            asked = data.get("session_id")
            if asked and asked != sender:
                return _refused("session_mismatch")
            text, message_id = data.get("message"), data.get("message_id")
            if not isinstance(text, str):
                return _refused("bad_message")
            if message_id is not None and (
                not isinstance(message_id, str) or not message_id or len(message_id) > MAX_ID_CHARS
            ):
                return _refused("bad_message_id")
            agent = self._agent(webhook)
            output = WebchatOutput(sio)
            if not text.strip():
                await output.send_text_message(sender, domain_text(agent, EMPTY, self.name()))
                return {"status": "accepted"}
            if len(text) > MAX_MESSAGE_CHARS:
                await output.send_text_message(sender, domain_text(agent, TOO_LONG, self.name()))
                return _refused("too_long")
            if self.throttle.wait(sender, session.get("client")):
                await output.send_text_message(sender, domain_text(agent, TOO_FAST, self.name()))
                return _refused("rate_limited")
            # The page retries a message until acknowledged: a repeat must not run twice.
            if message_id and await self.deliveries.claim(agent, sender, message_id) is not None:
                return {"status": "duplicate"}
            message = UserMessage(
                text,
                output,
                sender,
                input_channel=self.name(),
                message_id=message_id,
                metadata=_metadata(data.get("metadata")),
            )
            if message.metadata and "attachment" in message.metadata:
                turn = asyncio.create_task(self._file(agent, output, message, message_id))
            else:
                turn = asyncio.create_task(self._turn(agent, on_new_message, message, message_id))
            self._turns.add(turn)
            turn.add_done_callback(self._turns.discard)
            return {"status": "accepted"}

        return webhook

    async def _file(
        self, agent: Agent, output: WebchatOutput, message: UserMessage, message_id: str | None
    ) -> None:
        try:
            attachment = (message.metadata or {})["attachment"]
            await announce(agent, output, message, attachment, answer=True)
        finally:
            if message_id:
                self.deliveries.release(message.sender_id, message_id)

    def _from_backend(self, header: str | None) -> bool:
        token = self.settings.api_token
        if token is None:
            # As Rasa's own API without a token: scripts/rasa_server.py then binds loopback.
            return True
        given = (header or "").partition(" ")[2].strip()
        return hmac.compare_digest(given.encode(), token.encode())

    @staticmethod
    def _agent(webhook: _Blueprint) -> Agent:
        # Socket events arrive only once the app runs, so the blueprint is registered.
        agent: Agent = webhook.ctx.app.ctx.agent
        return agent

    async def _turn(
        self,
        agent: Agent,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        message: UserMessage,
        message_id: str | None,
    ) -> None:
        try:
            await self.settings.guard.handle(agent, on_new_message, message)
        finally:
            if message_id:
                self.deliveries.release(message.sender_id, message_id)


def _metadata(raw: Any) -> dict[str, Any] | None:
    """Only what the page is known to send; the rest of a client's metadata is dropped."""
    if not isinstance(raw, dict):
        return None
    kept: dict[str, Any] = {}
    display = raw.get("display")
    if isinstance(display, str) and display.strip() and len(display) <= MAX_DISPLAY_CHARS:
        kept["display"] = display
    attachment = attachment_of(raw.get("attachment"))
    if attachment is not None:
        kept["attachment"] = attachment
    return kept or None
