"""The outbox's numbers: how long a change of a work order takes to reach the customer's screen,
and how many notifications a worker sends per second.

- delay: the whole system up (backend with its worker, action server, Rasa); a web-chat
  customer (socket.io, as the chat page) has an order; staff move it along through the API and
  each notice is timed from the API's answer to `bot_uttered` on the customer's socket. The
  worker polls every BOT_OUTBOX_POLL_MS (default 1000 ms), which dominates.
- screen: the same, with the chat page open in Chromium (phone-sized): each notice timed from
  the API's answer to its bubble being added to the page (a MutationObserver's Date.now()).
- throughput: in-process on a temporary SQLite database (and PostgreSQL when TEST_POSTGRES_URL
  is set), N due rows sent by one worker and by two at once, to a channel that answers at once.

    .venv/bin/python scripts/bench_outbox.py [--orders 10] [--rows 2000] [--poll-ms 1000]
        [--part delay|screen|throughput]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bot import tables
from bot.contracts.chat_tokens import read_token
from bot.db import Database, create_engine
from bot.migrate import upgrade
from bot.notices import Delivery
from tests.support.database import (
    API_HEADERS,
    POSTGRES_ADMIN_URL,
    STAFF_USER,
    fixed_clock,
    pg_admin,
    pg_url,
    seed,
)
from tests.support.desk import create_account
from tests.support.outbox import Channel, at, worker
from tests.support.stack import Stack
from tests.support.webchat_customer import Customer, table

# The steps a drop-off repair goes through, and a piece of the notice each one sends.
STEPS = (
    ("received", "已收到您的设备"),
    ("diagnosing", None),
    ("waiting_parts", "正在等待配件"),
    ("repaired", "的设备已修好"),
    ("closed", "已完结"),
)


async def _notice(customer: Customer, part: str, seconds: float = 30) -> float:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        arrived, data = await asyncio.wait_for(customer.inbox.get(), timeout=left)
        if part in str(data.get("text", "")):
            return arrived
    raise TimeoutError(f"no notice with {part!r}")


async def delay(stack: Stack, orders: int) -> list[float]:
    samples: list[float] = []
    async with aiohttp.ClientSession(headers=API_HEADERS) as http, aiohttp.ClientSession() as page:
        url = stack.backend_url
        async with http.get(f"{url}/api/stations/BJ01/slots?from=2026-11-21&days=14") as reply:
            slots = [s for s in await reply.json() if s["free"] > 0]
        for i in range(orders):
            customer = Customer()
            await customer.connect(stack, page)
            await customer.say("你好")
            await customer.inbox.get()  # the greeting: the conversation is on the web chat now
            slot = slots[i % len(slots)]
            body = {
                "kind": "drop_off",
                "model_code": "XB14",
                "fault": "开机无显示",
                "station_code": "BJ01",
                "slot_date": slot["date"],
                "slot_start": slot["start"],
                "conversation_id": customer.session_id,
                "channel": "webchat",
            }
            async with http.post(f"{url}/api/workorders", json=body) as reply:
                order = await reply.json()
            for step, part in STEPS:
                async with http.post(
                    f"{url}/api/workorders/{order['id']}/transitions",
                    json={"to": step, "actor": "station:BJ01"},
                ) as reply:
                    assert reply.status == 200, await reply.text()
                    changed = time.perf_counter()
                if part is not None:
                    samples.append((await _notice(customer, part) - changed) * 1000)
            await customer.sio.disconnect()
    return samples


# Records when each bot message is put into the page, in the page's own wall clock.
_OBSERVE = """() => {
  window.shownAt = [];
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) {
      if (node.classList && node.classList.contains("bot")) {
        window.shownAt.push({ text: node.textContent, at: Date.now() });
      }
    }
  }).observe(document.getElementById("log"), { childList: true });
}"""
_SHOWN = """(part) => {
  const found = window.shownAt.find((m) => m.text.includes(part));
  return found ? found.at : null;
}"""


async def screen(stack: Stack, orders: int) -> list[float]:
    from playwright.async_api import async_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.support.browser import PHONE

    samples: list[float] = []
    url = stack.backend_url
    async with async_playwright() as pw, aiohttp.ClientSession(headers=API_HEADERS) as http:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        async with http.get(f"{url}/api/stations/BJ01/slots?from=2026-11-21&days=14") as reply:
            slots = [s for s in await reply.json() if s["free"] > 0]
        try:
            for i in range(orders):
                context = await browser.new_context(**PHONE)
                page = await context.new_page()
                await page.goto(f"{url}/")
                await page.wait_for_selector("#status[data-state=online]", timeout=30_000)
                await page.evaluate(_OBSERVE)
                await page.fill("#input", "你好")
                await page.press("#input", "Enter")
                await page.wait_for_function("() => window.shownAt.length > 0", timeout=30_000)
                token = await page.evaluate("localStorage.getItem('xingchen-webchat-token')")
                session = read_token(stack.env["CHAT_SECRET"], token).session_id
                slot = slots[i % len(slots)]
                body = {
                    "kind": "drop_off",
                    "model_code": "XB14",
                    "fault": "开机无显示",
                    "station_code": "BJ01",
                    "slot_date": slot["date"],
                    "slot_start": slot["start"],
                    "conversation_id": session,
                    "channel": "webchat",
                }
                async with http.post(f"{url}/api/workorders", json=body) as reply:
                    order = await reply.json()
                for step, part in STEPS:
                    async with http.post(
                        f"{url}/api/workorders/{order['id']}/transitions",
                        json={"to": step, "actor": "station:BJ01"},
                    ) as reply:
                        assert reply.status == 200, await reply.text()
                        changed = time.time() * 1000
                    if part is not None:
                        shown = await page.wait_for_function(_SHOWN, arg=part, timeout=30_000)
                        samples.append(float(await shown.json_value()) - changed)
                await context.close()
        finally:
            await browser.close()
    return samples


class Instant(Channel):
    async def send(self, delivery: Delivery) -> None:
        self.delivered.append(delivery)


async def throughput(url: str, rows: int) -> list[str]:
    db = Database(create_engine(url))
    lines = []
    try:
        async with db.read() as conn:
            order_ids = list((await conn.execute(tables.work_orders.select())).scalars())
        for workers in (1, 2):
            now = fixed_clock().to_db(fixed_clock().now())
            async with db.write() as conn:
                await conn.execute(tables.notifications.delete())
                await conn.execute(
                    tables.notifications.insert(),
                    [
                        {
                            "work_order_id": order_ids[i % len(order_ids)],
                            "event": "received",
                            "round": i,
                            "response": "utter_notice_received",
                            "facts": {},
                            "urgent": False,
                            "status": "pending",
                            "due_at": now,
                            "attempts": 0,
                            "channel": "webchat",
                            "created_at": now,
                        }
                        for i in range(rows)
                    ],
                )
            channel = Instant()
            team = [worker(db, channel, f"w{n}") for n in range(workers)]
            started = time.perf_counter()
            while len(channel.delivered) < rows:
                await asyncio.gather(*(w.deliver_due(at(minutes=1)) for w in team))
            seconds = time.perf_counter() - started
            assert len({d.key for d in channel.delivered}) == rows, "a row was sent twice"
            lines.append(f"| {url.split(':')[0]} | {workers} | {rows} | {rows / seconds:.0f} |")
    finally:
        await db.close()
    return lines


async def _seeded(url: str) -> None:
    upgrade(url)
    await seed(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--part", choices=("delay", "screen", "throughput", "both"), default="both")
    # The worker's poll interval dominates the delay: measure the default and a shorter one.
    parser.add_argument("--poll-ms", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        if args.part in ("throughput", "both"):
            urls = [f"sqlite:///{Path(workdir) / 'bench.db'}"]
            name = f"bench_outbox_{uuid.uuid4().hex[:8]}"
            if POSTGRES_ADMIN_URL:
                pg_admin(f'CREATE DATABASE "{name}"')
                urls.append(pg_url(name))
            lines: list[Any] = []
            try:
                for url in urls:
                    asyncio.run(_seeded(url))
                    lines += asyncio.run(throughput(url, args.rows))
            finally:
                if POSTGRES_ADMIN_URL:
                    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print("| database | workers | rows | rows/s |")
            print("|---|---|---|---|")
            print("\n".join(lines))
        if args.part in ("delay", "screen", "both"):
            env = {
                "CHAT_SECRET": secrets.token_hex(32),
                "BOT_CSAT_DELAY_MINUTES": "0",
                "BOT_OUTBOX_POLL_MS": str(args.poll_ms),
            }
            stack = Stack(Path(workdir) / "stack", extra_env=env)
            stack.workdir.mkdir()
            stack.start()
            try:
                create_account(stack, STAFF_USER, "网点主管", "supervisor")
                measure = screen if args.part == "screen" else delay
                samples = asyncio.run(measure(stack, args.orders))
            finally:
                stack.stop()
            print("| path | notices | p50 ms | p95 ms | max ms |")
            print("|---|---|---|---|---|")
            where = "page in Chromium" if args.part == "screen" else "web-chat socket"
            print(table(f"state change → {where}, poll {args.poll_ms} ms", samples))


if __name__ == "__main__":
    main()
