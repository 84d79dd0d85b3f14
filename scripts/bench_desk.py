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
import tempfile
import time
from pathlib import Path

import aiohttp

from tests.support.desk import DeskUser, create_account, next_message
from tests.support.stack import Stack
from tests.support.webchat_customer import Customer, table


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
