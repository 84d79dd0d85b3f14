"""A stand-in for Rasa's HTTP API as the desk uses it, on a loopback port (the pattern of
aiohttp's examples/fake_server.py): it keeps every conversation's events, says whether a
conversation is paused, and can be made to fail or to hold a call until the test lets it go.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@dataclass(frozen=True)
class Call:
    conversation: str
    what: str  # "pause", "resume", "slot", "bot", "action", … or "execute:<response>"
    detail: dict[str, Any]


class FakeRasa:
    def __init__(self) -> None:
        self.url = ""
        self.calls: list[Call] = []
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # Answer every call with this status instead (Rasa is broken), when set.
        self.failing: int | None = None
        # Run before a call is answered: lets a test look at the backend meanwhile.
        self.on_call: Callable[[Call], Awaitable[None]] | None = None
        self._gate: asyncio.Event | None = None
        self._arrived = asyncio.Event()
        # The `token` query parameter of every GET /status (the health checks).
        self.status_calls: list[str | None] = []
        # The bodies of the web-chat channel's typing signals (connectors/webchat.py).
        self.typing: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, server: ServerFactory) -> FakeRasa:
        """Serve a new fake on loopback with pytest-aiohttp's `aiohttp_server`."""
        fake = cls()
        app = web.Application()
        app.router.add_get("/conversations/{id}/tracker", fake._tracker)
        app.router.add_post("/conversations/{id}/tracker/events", fake._append)
        app.router.add_post("/conversations/{id}/execute", fake._execute)
        app.router.add_get("/status", fake._status)
        app.router.add_post("/webhooks/webchat/typing", fake._typing)
        running = await server(app)
        fake.url = str(running.make_url("")).rstrip("/")
        return fake

    # --- what the test sees ----------------------------------------------------------------

    def paused(self, conversation: str) -> bool:
        state = False
        for event in self.events[conversation]:
            if event.get("event") in ("pause", "resume"):
                state = event["event"] == "pause"
        return state

    def said(self, conversation: str) -> list[str]:
        """The responses the desk had the bot say, in order."""
        return [
            c.what.removeprefix("execute:")
            for c in self.calls
            if c.conversation == conversation and c.what.startswith("execute:")
        ]

    def slot(self, conversation: str, name: str) -> Any:
        values = [
            e.get("value")
            for e in self.events[conversation]
            if e.get("event") == "slot" and e.get("name") == name
        ]
        return values[-1] if values else None

    def kinds(self, conversation: str) -> list[str]:
        return [c.what for c in self.calls if c.conversation == conversation]

    def hold(self) -> None:
        """From now on every call waits until `release()`."""
        self._gate = asyncio.Event()
        self._arrived.clear()

    async def held(self, timeout: float = 10) -> None:
        """Wait until a call is waiting at the gate."""
        await asyncio.wait_for(self._arrived.wait(), timeout)

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()
        self._gate = None

    # --- Rasa's side -----------------------------------------------------------------------

    async def _answer(self, call: Call) -> web.Response | None:
        if self._gate is not None:
            self._arrived.set()
            await self._gate.wait()
        if self.on_call is not None:
            await self.on_call(call)
        if self.failing is not None:
            return web.json_response({"message": "broken on purpose"}, status=self.failing)
        self.calls.append(call)
        return None

    def _state(self, conversation: str) -> dict[str, Any]:
        return {
            "sender_id": conversation,
            "events": self.events[conversation],
            "paused": self.paused(conversation),
        }

    async def _status(self, request: web.Request) -> web.Response:
        self.status_calls.append(request.query.get("token"))
        if self.failing is not None:
            return web.json_response({"message": "broken on purpose"}, status=self.failing)
        return web.json_response({"model_id": "fake-model", "num_active_training_jobs": 0})

    async def _typing(self, request: web.Request) -> web.Response:
        self.typing.append(await request.json())
        return web.json_response({"status": "sent"}, status=202)

    async def _tracker(self, request: web.Request) -> web.Response:
        conversation = request.match_info["id"]
        refused = await self._answer(Call(conversation, "tracker", {}))
        return refused if refused is not None else web.json_response(self._state(conversation))

    async def _append(self, request: web.Request) -> web.Response:
        conversation = request.match_info["id"]
        body = await request.json()
        events = body if isinstance(body, list) else [body]
        kind = "+".join(str(e.get("event")) for e in events)
        refused = await self._answer(Call(conversation, kind, {"events": events}))
        if refused is not None:
            return refused
        self.events[conversation].extend(events)
        return web.json_response(self._state(conversation))

    async def _execute(self, request: web.Request) -> web.Response:
        conversation = request.match_info["id"]
        name = str((await request.json()).get("name"))
        refused = await self._answer(Call(conversation, f"execute:{name}", dict(request.query)))
        if refused is not None:
            return refused
        self.events[conversation].append({"event": "bot", "text": name})
        return web.json_response({"tracker": self._state(conversation), "messages": []})
