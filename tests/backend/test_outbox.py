"""The outbox: a notice per change written with the change, sent exactly once by workers that
claim rows with a lease (two at once, after a restart, after one died mid-send), held in quiet
hours, retried with back-off; delivered through Rasa or by SMS."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from bot.db import Database
from bot.desk.rasa import Rasa
from bot.notices import Delivery, LoggingSms, Message, RasaSender, SmsChannel
from tests.support.api import call
from tests.support.fake_rasa import FakeRasa, ServerFactory
from tests.support.outbox import Channel, at, book, move, rows, worker


async def test_a_refused_change_writes_no_notice(api: TestClient, db: Database) -> None:
    order_id = await book(api)
    await call(
        api,
        "POST",
        f"/api/workorders/{order_id}/transitions",
        409,
        json={"to": "repaired", "actor": "station:BJ01"},
    )
    assert await rows(db, order_id) == []


async def test_each_change_is_written_once_and_sent_once(api: TestClient, db: Database) -> None:
    order_id = await book(api)
    await move(api, order_id, "received", "diagnosing", "waiting_parts")
    # The customer's own booking is not told back to them; diagnosing is not worth a message.
    assert await rows(db, order_id) == [
        ("received", 1, "pending"),
        ("waiting_parts", 1, "pending"),
    ]
    channel = Channel()
    assert await worker(db, channel).deliver_due(at(minutes=1)) == 2
    assert await worker(db, channel).deliver_due(at(minutes=2)) == 0
    assert channel.sent_keys() == [f"{order_id}:received:1", f"{order_id}:waiting_parts:1"]
    assert order_id in channel.texts()[0] and "已收到您的设备" in channel.texts()[0]
    assert "step waiting_parts" in channel.texts()[1]
    assert channel.delivered[0].conversation_id == "conv-outbox"


async def test_two_workers_at_once_send_each_notice_once(api: TestClient, db: Database) -> None:
    orders = [await book(api, conversation_id=f"c{i}") for i in range(6)]
    for order_id in orders:
        await move(api, order_id, "received")
    channel = Channel(delay=0.01)
    a, b = worker(db, channel, "a"), worker(db, channel, "b")
    done = await asyncio.gather(a.deliver_due(at(minutes=1)), b.deliver_due(at(minutes=1)))
    assert sum(done) == 6
    assert sorted(channel.sent_keys()) == sorted(f"{o}:received:1" for o in orders)


async def test_a_restarted_worker_sends_what_was_left(api: TestClient, db: Database) -> None:
    orders = [await book(api, conversation_id=f"c{i}") for i in range(3)]
    for order_id in orders:
        await move(api, order_id, "received")
    channel = Channel()
    sent: list[int] = []

    def stop_after_one() -> bool:
        sent.append(1)
        return len(sent) > 1

    assert await worker(db, channel, "before").deliver_due(at(minutes=1), stop_after_one) == 1
    # A new process: another name, nothing in memory.
    assert await worker(db, channel, "after").deliver_due(at(minutes=1)) == 2
    assert sorted(channel.sent_keys()) == sorted(f"{o}:received:1" for o in orders)


async def test_a_row_whose_worker_died_mid_send_goes_out_after_the_lease(
    api: TestClient, db: Database
) -> None:
    order_id = await book(api)
    await move(api, order_id, "received")
    dead = worker(db, Channel(), "dead", lease_seconds=60)
    # Claimed, then killed before the send was marked (nothing marked, the lease stays).
    _, claimed = await dead.claim(at(minutes=1))
    assert [row.work_order_id for row, _ in claimed] == [order_id]
    channel = Channel()
    other = worker(db, channel, "other", lease_seconds=60)
    assert await other.deliver_due(at(minutes=1, seconds=30)) == 0
    assert await other.deliver_due(at(minutes=2, seconds=1)) == 1
    assert channel.sent_keys() == [f"{order_id}:received:1"]
    assert await rows(db, order_id) == [("received", 1, "sent")]


async def test_a_failed_send_is_retried_with_back_off(api: TestClient, db: Database) -> None:
    order_id = await book(api)
    await move(api, order_id, "received")
    channel = Channel(failures=2)
    w = worker(db, channel)
    assert await w.deliver_due(at(minutes=1)) == 0
    assert await w.deliver_due(at(minutes=1, seconds=20)) == 0  # back-off: 30 s
    assert await w.deliver_due(at(minutes=1, seconds=31)) == 0  # second failure: 60 s more
    assert await w.deliver_due(at(minutes=2, seconds=10)) == 0
    assert await w.deliver_due(at(minutes=2, seconds=32)) == 1
    assert channel.sent_keys() == [f"{order_id}:received:1"]


async def test_a_channel_that_never_takes_it_gives_up(api: TestClient, db: Database) -> None:
    order_id = await book(api)
    await move(api, order_id, "received")
    w = worker(db, Channel(failures=99), max_attempts=2)
    await w.deliver_due(at(minutes=1))
    assert await w.deliver_due(at(minutes=2)) == 1
    assert await rows(db, order_id) == [("received", 1, "failed")]


async def test_quiet_hours_hold_a_notice_until_morning_unless_urgent(
    api: TestClient, db: Database
) -> None:
    order_id = await book(api)
    later = await book(api, conversation_id="c-late", slot_start="10:30")
    await move(api, order_id, "received")
    await move(api, later, "cancelled")  # the station called the visit off
    channel = Channel()
    w = worker(db, channel)
    # Friday 22:30 in Shanghai: only the urgent one goes.
    assert await w.deliver_due(at(hours=12, minutes=30)) == 1
    assert channel.sent_keys() == [f"{later}:cancelled:1"]
    assert await w.deliver_due(at(hours=22, minutes=59)) == 0  # Saturday 08:59
    assert await w.deliver_due(at(hours=23)) == 1  # Saturday 09:00
    assert channel.sent_keys()[-1] == f"{order_id}:received:1"


async def test_the_customers_own_reschedule_and_cancel_are_not_told_back(
    api: TestClient, db: Database
) -> None:
    order_id = await book(api)
    body = {"slot_date": "2026-11-21", "slot_start": "10:30"}
    await call(api, "POST", f"/api/workorders/{order_id}/reschedule", 200, json=body)
    await call(api, "POST", f"/api/workorders/{order_id}/cancel", 200, json={"reason": "不修了"})
    assert await rows(db, order_id) == []


async def test_an_order_without_a_chat_is_told_by_sms(api: TestClient, db: Database) -> None:
    order_id = await book(api, conversation_id=None, channel=None)
    await move(api, order_id, "received")
    channel = Channel()
    await worker(db, channel).deliver_due(at(minutes=1))
    assert [(d.channel, d.phone) for d in channel.delivered] == [("sms", "13800138000")]
    gateway = LoggingSms()
    await SmsChannel(gateway).send(channel.delivered[0])
    assert gateway.sent == [
        ("13800138000", channel.delivered[0].message.text, channel.sent_keys()[0])
    ]


async def test_rasa_gets_the_message_with_its_key_on_the_latest_channel(
    aiohttp_server: ServerFactory,
) -> None:
    import aiohttp

    rasa = await FakeRasa.start(aiohttp_server)
    async with aiohttp.ClientSession() as session:
        sender = RasaSender(Rasa(session, rasa.url, None))
        message = Message("请打分", [{"title": "5分", "payload": "/rate_service"}])
        await sender.send(Delivery("WO1:csat:1", "webchat", "conv-9", None, message, 1234.5))
    [event] = rasa.events["conv-9"]
    assert event["text"] == "请打分" and event["timestamp"] == 1234.5
    assert event["metadata"] == {"notice_key": "WO1:csat:1"}
    assert event["data"]["buttons"] == [{"title": "5分", "payload": "/rate_service"}]
