"""Customers for the fault benchmark (`scripts/bench_faults.py`): a few conversations that
talk to the assistant's REST channel in a closed loop and write down every attempt.

Three kinds of customer: one who books repairs (a new conversation per booking, the work-order
id read from the confirmation), one who asks questions (warranty, diagnosis, stations: a new
conversation per question), and one whose conversation is handed to a person and who then
keeps writing. A customer who gets an apology, an error or silence sends the same message
again after a pause, as the apology asks; so every attempt is recorded with its outcome.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.support.database import REST_HEADERS

# The domain's apology (utter_service_unavailable): the guard's answer when a turn failed.
APOLOGY_MARK = "系统暂时出了点问题"
WORK_ORDER = re.compile(r"WO\d{8}-\d{4}")
TIMEOUT = aiohttp.ClientTimeout(total=40)
RETRY_PAUSE = 1.0
THINK = 0.2

BOOKING = [
    "我想预约维修",
    '/inform{"repair_kind": "drop_off"}',
    "序列号是PF8M3X6T",
    "屏幕一直闪，有横条纹",
    "北京",
    '/inform{"station_code": "BJ02"}',
    "尽快吧",
    "13812345678",
    "没问题",
]
QUESTIONS = [
    "PF2K7Q9A 这台还在保修期内吗",
    "打印机老是卡纸怎么办",
    "上海哪里有维修点",
]
HANDOFF = ["我的笔记本开不了机", "转人工"]

OK, APOLOGY, SILENT, REFUSED = "ok", "apology", "silent", "refused"


@dataclass
class Attempt:
    """One message sent once, and what came back."""

    sender: str
    text: str
    started: float
    ended: float
    outcome: str
    """ok, apology, silent (200 and nothing for a conversation no person holds) or refused
    (no HTTP answer, or not 200)."""
    replies: list[str] = field(default_factory=list)
    expect_silence: bool = False
    status: int = 0
    """The HTTP status; 0 when the connection failed or the client's 40 s ran out."""


@dataclass
class Booking:
    sender: str
    work_order: str | None = None
    """The id the customer was shown; None if the confirmation never arrived."""
    acknowledged_at: float | None = None


@dataclass
class Record:
    """Everything the customers did, for the checks afterwards."""

    attempts: list[Attempt] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)
    handed_off: list[str] = field(default_factory=list)
    """Conversations a person holds, whose customer messages must all reach the desk."""

    def senders(self) -> set[str]:
        return {a.sender for a in self.attempts}


class Customers:
    """Runs the customers until `stop` is set; `record` holds what they did."""

    def __init__(self, rasa_url: str, *, bookers: int = 2, askers: int = 3) -> None:
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        self.bookers, self.askers = bookers, askers
        self.record = Record()
        self.stop = asyncio.Event()
        self._serial = 0

    def _sender(self, kind: str) -> str:
        self._serial += 1
        return f"fault-{kind}-{self._serial:04d}-{int(time.time() * 1000) % 100000}"

    async def _send_once(
        self, http: aiohttp.ClientSession, sender: str, text: str, expect_silence: bool
    ) -> Attempt:
        body = json.dumps({"sender": sender, "message": text}, ensure_ascii=False).encode()
        started = time.monotonic()
        texts: list[str] = []
        try:
            async with http.post(
                self.url,
                data=body,
                headers={"Content-Type": "application/json"} | REST_HEADERS,
                timeout=TIMEOUT,
            ) as reply:
                answer: Any = await reply.json(content_type=None)
                status = reply.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            status, answer = 0, None
        if status != 200 or not isinstance(answer, list):
            outcome = REFUSED
        else:
            texts = [str(r.get("text") or "") for r in answer if isinstance(r, dict)]
            if any(APOLOGY_MARK in t for t in texts):
                outcome = APOLOGY
            elif not answer and not expect_silence:
                outcome = SILENT
            else:
                outcome = OK
        attempt = Attempt(sender, text, started, time.monotonic(), outcome, texts, expect_silence)
        self.record.attempts.append(attempt)
        return attempt

    async def send(
        self, http: aiohttp.ClientSession, sender: str, text: str, expect_silence: bool = False
    ) -> Attempt | None:
        """Send until answered (or the load stops): the customer writes again after an
        apology, an error or silence. Returns the answered attempt."""
        while True:
            attempt = await self._send_once(http, sender, text, expect_silence)
            if attempt.outcome == OK:
                await asyncio.sleep(THINK)
                return attempt
            if self.stop.is_set():
                return None
            await asyncio.sleep(RETRY_PAUSE)

    async def _booker(self, http: aiohttp.ClientSession) -> None:
        while not self.stop.is_set():
            booking = Booking(self._sender("booking"))
            self.record.bookings.append(booking)
            attempt: Attempt | None = None
            for text in BOOKING:
                attempt = await self.send(http, booking.sender, text)
                if attempt is None:
                    return
            assert attempt is not None
            found = WORK_ORDER.search(" ".join(attempt.replies))
            if found:
                booking.work_order, booking.acknowledged_at = found.group(), attempt.ended

    async def _asker(self, http: aiohttp.ClientSession, offset: int) -> None:
        turn = offset
        while not self.stop.is_set():
            await self.send(http, self._sender("question"), QUESTIONS[turn % len(QUESTIONS)])
            turn += 1

    async def hand_off(self, http: aiohttp.ClientSession) -> str:
        """A conversation a person takes over (before any fault: setting it up is not what
        is measured)."""
        sender = self._sender("handoff")
        for text in HANDOFF:
            await self.send(http, sender, text)
        self.record.handed_off.append(sender)
        return sender

    async def _writer(self, http: aiohttp.ClientSession, sender: str) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            await self.send(http, sender, f"第{n}条补充：电源灯还是不亮", expect_silence=True)

    async def run(self) -> None:
        async with aiohttp.ClientSession() as http:
            sender = await self.hand_off(http)
            await asyncio.gather(
                self._writer(http, sender),
                *(self._booker(http) for _ in range(self.bookers)),
                *(self._asker(http, n) for n in range(self.askers)),
            )


def attempts_of(record: Record, sender: str) -> Iterator[Attempt]:
    return (a for a in record.attempts if a.sender == sender)
