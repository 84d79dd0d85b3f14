"""End-to-end latency of one REST turn that runs custom actions against the backend.

Starts the whole system as `make run` does (backend on a temporary demo database, action
server, Rasa with the latest trained model), then times POST /webhooks/rest/webhook for
messages whose turn calls the backend through a custom action. Prints p50/p95 per message.
Usage: python scripts/bench_rest.py [turns per message, default 200]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from tests.support.database import REST_HEADERS
from tests.support.stack import Stack

MESSAGES = {
    # warranty_form (serial checked in the backend) + action_warranty_verdict
    "warranty verdict": "PF2K7Q9A 这台还在保修期内吗",
    # action_diagnose: knowledge search in the backend
    "diagnosis": "打印机老是卡纸怎么办",
    # locator_form + action_find_stations
    "station locator": "上海哪里有维修点",
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def turn(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> float:
    body = json.dumps({"sender": sender, "message": text}, ensure_ascii=False).encode()
    started = time.perf_counter()
    async with session.post(
        f"{url}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json"} | REST_HEADERS,
    ) as reply:
        replies = await reply.json()
    elapsed = (time.perf_counter() - started) * 1000
    if reply.status != 200 or not replies:
        raise RuntimeError(f"{text!r}: {reply.status} {replies}")
    return elapsed


async def measure(url: str, turns: int) -> None:
    async with aiohttp.ClientSession() as session:
        print(f"{'message':<18} {'turns':>6} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
        for name, text in MESSAGES.items():
            for n in range(5):  # warm-up: first model calls, connection pools
                await turn(session, url, f"warm-{name}-{n}", text)
            # A fresh conversation per turn: every turn runs the whole journey step.
            times = [await turn(session, url, f"{name}-{n}", text) for n in range(turns)]
            print(
                f"{name:<18} {turns:>6} {statistics.median(times):>8.1f}"
                f" {percentile(times, 0.95):>8.1f} {statistics.fmean(times):>8.1f}"
            )


def main() -> None:
    turns = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as workdir:
        stack = Stack(Path(workdir)).start()
        try:
            asyncio.run(measure(stack.rasa_url, turns))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
