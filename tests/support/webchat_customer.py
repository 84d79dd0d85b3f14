"""A web-chat customer reduced to its socket (as the chat page), and the latency table the
benchmarks print (scripts/bench_desk.py, scripts/bench_outbox.py)."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp
import socketio

from tests.support.stack import Stack


class Customer:
    """The web chat page, reduced to its socket."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient()
        self.inbox: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.sio.on("bot_uttered", self._received)
        self.session_id = ""

    async def _received(self, data: dict[str, Any]) -> None:
        await self.inbox.put((time.perf_counter(), data))

    async def connect(self, stack: Stack, http: aiohttp.ClientSession) -> None:
        async with http.post(f"{stack.backend_url}/api/chat/sessions") as reply:
            chat = await reply.json()
        self.session_id = chat["session_id"]
        await self.sio.connect(
            # python-engineio's websocket client needs a newer aiohttp than Rasa 3.6 allows;
            # long-polling answers as soon as a message is queued, so it overstates slightly.
            stack.rasa_url,
            auth={"token": chat["token"]},
            transports=["polling"],
        )
        await self.sio.emit("session_request", {"session_id": self.session_id})

    async def say(self, text: str) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})

    async def expect(self, text: str, seconds: float = 10) -> float:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            at, data = await asyncio.wait_for(self.inbox.get(), timeout=left)
            if data.get("text") == text:
                return at
        raise TimeoutError(f"{text!r} never reached the customer")


def table(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (
        f"| {name} | {len(samples)} | {statistics.median(samples):.0f} | {p95:.0f} "
        f"| {ordered[-1]:.0f} |"
    )
