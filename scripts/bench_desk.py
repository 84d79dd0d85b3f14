"""Delivery time between a customer on the web chat and an agent at the desk, whole system up.

A customer (socket.io, as the chat page) asks for a person; an agent logs in and claims the
conversation. Then N customer messages are timed from `user_uttered` to their arrival on the
agent's desk websocket, and N agent replies from the desk's POST to `bot_uttered` on the
customer's socket (long-polling transport, see `Customer.connect`). Prints p50 / p95 / max in
milliseconds.

    .venv/bin/python scripts/bench_desk.py [--messages 100]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from tests.support.desk import DeskUser, create_account, next_message
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


async def bench(stack: Stack, count: int) -> None:
    create_account(stack, "bench", "测试客服")
    agent = await DeskUser.login(stack.backend_url, "bench")
    customer = Customer()
    async with aiohttp.ClientSession() as http:
        await customer.connect(stack, http)
        await customer.say("转人工")
        handoff = ""
        for _ in range(100):
            queue = await agent.ok("GET", "/desk/api/handoffs?scope=queue")
            found = [i["id"] for i in queue if i["conversation_id"] == customer.session_id]
            if found:
                handoff = found[0]
                break
            await asyncio.sleep(0.1)
        await agent.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
        socket = await agent.socket()
        inbound, outbound = [], []
        for i in range(count):
            text = f"客户消息 {i}"
            start = time.perf_counter()
            await customer.say(text)
            await next_message(socket, "customer", handoff_id=handoff, text=text)
            inbound.append((time.perf_counter() - start) * 1000)
        for i in range(count):
            text = f"客服回复 {i}"
            start = time.perf_counter()
            await agent.ok("POST", f"/desk/api/handoffs/{handoff}/messages", {"text": text})
            outbound.append((await customer.expect(text) - start) * 1000)
        await socket.close()
    await customer.sio.disconnect()
    await agent.close()
    print("| direction | messages | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    print(table("customer → desk", inbound))
    print(table("agent → customer", outbound))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        stack = Stack(Path(workdir), extra_env={"CHAT_SECRET": secrets.token_hex(32)}).start()
        try:
            asyncio.run(bench(stack, args.messages))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
