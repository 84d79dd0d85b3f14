"""Rules around the survey that hold however a rating or an erase arrives: a low rating sent
straight to the API opens a complaint as the bot's rating does, one customer is surveyed about
one order a week at most, and an erased customer hears nothing more from the outbox."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import privacy, tables
from bot.clock import Clock
from bot.db import Database
from bot.privacy import Stores
from tests.support.api import call
from tests.support.outbox import TO_CLOSED, Channel, at, book, move, rows, worker


async def closed_order(api: TestClient, **changes: str) -> str:
    order_id = await book(api, **changes)
    await move(api, order_id, *TO_CLOSED)
    return order_id


async def complaints_of(db: Database, order_id: str) -> list[tuple[str, str, str | None]]:
    c = tables.complaints
    async with db.read() as conn:
        found = await conn.execute(
            select(c.c.severity, c.c.text, c.c.conversation_id).where(c.c.work_order_id == order_id)
        )
        return [(r.severity, r.text, r.conversation_id) for r in found]


async def test_a_low_rating_straight_to_the_api_opens_a_complaint(
    api: TestClient, db: Database
) -> None:
    low = await closed_order(api)
    fair = await closed_order(api, phone="13900139000", conversation_id="conv-fair")
    body = {"score": 2, "comment": "等太久了"}
    await call(api, "POST", f"/api/workorders/{low}/rating", 200, json=body)
    await call(api, "POST", f"/api/workorders/{fair}/rating", 200, json={"score": 3})
    assert await complaints_of(db, low) == [("medium", "rating 2/5: 等太久了", "conv-outbox")]
    assert await complaints_of(db, fair) == []
    # A second rating is refused, so the complaint is never opened twice.
    await call(api, "POST", f"/api/workorders/{low}/rating", 409, json={"score": 1})
    assert len(await complaints_of(db, low)) == 1


async def test_one_survey_a_week_per_customer(api: TestClient, db: Database) -> None:
    first = await closed_order(api)
    # The same customer by phone (another conversation), and by conversation (another phone).
    by_phone = await closed_order(api, conversation_id="conv-second")
    by_chat = await closed_order(api, phone="13700137000")
    other = await closed_order(api, phone="13900139000", conversation_id="conv-other")
    channel = Channel()
    await worker(db, channel).deliver_due(at(hours=2))
    surveyed = sorted(k for k in channel.sent_keys() if ":csat:" in k)
    assert surveyed == sorted([f"{first}:csat:1", f"{other}:csat:1"])
    assert ("csat", 1, "skipped") in await rows(db, by_phone)
    assert ("csat", 1, "skipped") in await rows(db, by_chat)
    # Their 回访 still comes: it asks about the repair, not for a score.
    await worker(db, channel).deliver_due(at(days=3))
    assert f"{by_phone}:followup:1" in channel.sent_keys()
    # A week later the customer is asked again; with the gap off, about every order.
    later = await closed_order(api)
    channel = Channel()
    await worker(db, channel, "w2").deliver_due(at(days=7, hours=3))
    assert f"{later}:csat:1" in channel.sent_keys()
    again = await closed_order(api)
    off = Channel()
    await worker(db, off, "w3", survey_gap_days=0).deliver_due(at(days=7, hours=4))
    assert f"{again}:csat:1" in off.sent_keys()


async def test_an_erased_customer_is_not_told_surveyed_or_called(
    api: TestClient, db: Database, clock: Clock
) -> None:
    order_id = await closed_order(api)
    other = await closed_order(api, phone="13900139000", conversation_id="conv-other")
    pending = [r for r in await rows(db, order_id) if r[2] == "pending"]
    assert {"closed", "csat", "followup"} <= {event for event, _, _ in pending}
    counts = await privacy.erase(Stores(db), "13800138000", clock.now(), "tester")
    assert counts["notices_cancelled"] == len(pending)
    assert counts["followups_cancelled"] == 1
    assert {status for _, _, status in await rows(db, order_id)} == {"cancelled"}
    channel = Channel()
    await worker(db, channel).deliver_due(at(days=5))
    assert not [k for k in channel.sent_keys() if k.startswith(order_id)]
    assert f"{other}:csat:1" in channel.sent_keys()
    f = tables.followups
    async with db.read() as conn:
        rows_ = await conn.execute(select(f.c.work_order_id, f.c.status))
        statuses = {r.work_order_id: r.status for r in rows_}
    assert statuses[order_id] == "cancelled" and statuses[other] == "scheduled"
