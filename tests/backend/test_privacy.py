"""Personal data by phone (export, erase) and retention (purge), across the backend's tables and
Rasa's own SQL tracker store and event broker table, built here by Rasa itself."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bot import privacy, tables
from bot.__main__ import main
from bot.clock import Clock
from bot.contracts.masking import mask_address, mask_phone
from bot.db import Database
from bot.privacy import Retention, Stores, open_stores, phone_digits

PHONE = "13800138000"
OTHER = "13900001111"
NOW = time.time()
DAY = 86400.0


def test_phone_numbers_are_compared_by_their_digits() -> None:
    for spelling in (
        "138 0013 8000",
        "+86 138-0013-8000",
        "0086 13800138000",
        "１３８００１３８０００",
    ):
        assert phone_digits(spelling) == PHONE
        assert privacy.holds(f"我的电话是{spelling}，谢谢", PHONE)
    assert not privacy.holds("订单 213800138000", PHONE)
    assert not privacy.holds("13800138001", PHONE)
    assert privacy.redact("请回电 138-0013-8000 找王先生", PHONE) == "请回电 [已删除] 找王先生"
    assert privacy.mask(PHONE) == "138****8000"
    with pytest.raises(privacy.NotAPhone):
        phone_digits("王先生")


def test_phones_and_addresses_are_masked_as_the_bot_shows_them() -> None:
    phones = {
        "13800138000": "138****8000",
        "+86 138-0013-8000": "138****8000",
        "010-12345678": "010****5678",
        "0755-26881234": "075*****1234",
        "26881234": "****1234",
        "12345": "****",
        "": "****",
    }
    assert {p: mask_phone(p) for p in phones} == phones
    addresses = {
        "朝阳区建国门外大街1号国贸大厦A座": "朝阳区建国门外大街**",
        "北京市海淀区学院路30号": "北京市海淀区学院路**",
        "南山区科技园南区软件产业基地4栋502": "南山区**",
        "科技园4栋502": "科技**",
        "": "",
    }
    assert {a: mask_address(a) for a in addresses} == addresses


# --- Rasa's stores, as Rasa writes them -------------------------------------------------------


async def _rasa_stores(folder: Path, conversations: dict[str, list[tuple[float, str]]]) -> None:
    """A tracker store and an SQL event broker table holding these conversations' messages."""
    from rasa.core.brokers.sql import SQLEventBroker
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    broker = SQLEventBroker(db=str(folder / "events.db"))
    store = SQLTrackerStore(Domain.empty(), db=str(folder / "rasa.db"))
    stamped = sorted(
        (at, sender, words) for sender, lines in conversations.items() for at, words in lines
    )
    for at, sender, words in stamped:
        events = [
            UserUttered(words, timestamp=at),
            ActionExecuted("utter_ok", timestamp=at + 0.1),
            BotUttered("好的", timestamp=at + 0.2),
        ]
        tracker = await store.retrieve(sender) or DialogueStateTracker(sender, [])
        for event in events:
            tracker.update(event)
            broker.publish({"sender_id": sender, **event.as_dict()})
        await store.save(tracker)
    broker.engine.dispose()


async def _senders(url: str, where: str = "1=1") -> dict[str, int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    f"SELECT sender_id, count(*) AS n FROM events WHERE {where} GROUP BY sender_id"
                )
            )
            return {str(r.sender_id): int(r.n) for r in rows}
    finally:
        await engine.dispose()


@dataclass
class Rasa:
    tracker: str
    broker: str

    @property
    def tracker_async(self) -> str:
        return self.tracker.replace("sqlite://", "sqlite+aiosqlite://")

    @property
    def broker_async(self) -> str:
        return self.broker.replace("sqlite://", "sqlite+aiosqlite://")


@pytest.fixture
async def rasa(tmp_path: Path) -> Rasa:
    await _rasa_stores(
        tmp_path,
        {
            # Booked a repair and gave the number in the chat.
            "conv-a": [(NOW - 300, "我想预约维修"), (NOW - 200, "我的电话 138 0013 8000")],
            # Asked for a person; the number is only in the handoff's package.
            "conv-b": [(NOW - 100, "转人工")],
            # Typed it full-width in a chat nothing else refers to.
            "conv-c": [(NOW - 50, "电话１３８００１３８０００")],
            # Another customer.
            "conv-z": [(NOW - 40, f"我的电话 {OTHER}")],
        },
    )
    return Rasa(f"sqlite:///{tmp_path / 'rasa.db'}", f"sqlite:///{tmp_path / 'events.db'}")


@pytest.fixture
async def stores(db: Database, rasa: Rasa) -> AsyncIterator[Stores]:
    async with open_stores(db, rasa.tracker, rasa.broker) as opened:
        assert opened.tracker is not None and opened.broker is not None
        yield opened


# --- the backend's side of one customer -------------------------------------------------------


async def _work_order(
    conn: AsyncConnection,
    order_id: str,
    phone: str,
    conversation: str | None,
    *,
    status: str = "scheduled",
    updated: datetime | None = None,
) -> None:
    at = Clock.to_db(updated or datetime(2026, 11, 19, 1, 0, tzinfo=timezone.utc))
    await conn.execute(
        tables.work_orders.insert().values(
            id=order_id,
            kind="on_site",
            status=status,
            fault="打印机卡纸",
            steps_tried=[],
            station_code="BJ01",
            slot_date=date(2026, 11, 23),
            slot_start="09:00",
            customer_name="王小明" if phone == PHONE else "李雷",
            phone=phone,
            address="北京市海淀区学院路30号",
            conversation_id=conversation,
            channel="webchat",
            reschedule_count=0,
            rating_comment="师傅很好",
            idempotency_key=f"{conversation}:workorder:1" if conversation else None,
            created_at=at,
            updated_at=at,
        )
    )
    await conn.execute(
        tables.work_order_events.insert().values(
            work_order_id=order_id,
            at=at,
            status=status,
            note=f"客户电话 {phone} 已确认",
            actor="station:BJ01",
        )
    )


async def _customer(db: Database, clock: Clock) -> dict[str, str]:
    """One customer's traces everywhere, and another customer's beside them."""
    now = Clock.to_db(clock.now())
    async with db.write() as conn:
        serials = list(await conn.scalars(select(tables.devices.c.serial).limit(2)))
        await conn.execute(
            tables.devices.update()
            .where(tables.devices.c.serial == serials[0])
            .values(customer_name="王小明", customer_phone="+86 138 0013 8000", city="北京")
        )
        await conn.execute(
            tables.devices.update()
            .where(tables.devices.c.serial == serials[1])
            .values(customer_name="李雷", customer_phone=OTHER, city="上海")
        )
        await _work_order(conn, "WO20261119-0901", "138-0013-8000", "conv-a")
        await _work_order(conn, "WO20261119-0902", OTHER, "conv-z")
        await conn.execute(
            tables.complaints.insert().values(
                id="CP20261119-0901",
                conversation_id="conv-b",
                channel="webchat",
                severity="high",
                text="上门太晚了，回电 13800138000",
                contact=None,
                status="open",
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            tables.handoffs.insert().values(
                id="HO20261119-0901",
                conversation_id="conv-b",
                channel="webchat",
                reason="requested",
                status="waiting",
                package={"customer_name": "王小明", "contact": PHONE, "fault": "卡纸"},
                complaint_id="CP20261119-0901",
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            tables.desk_assignments.insert().values(
                handoff_id="HO20261119-0901", callback_phone="138 0013 8000"
            )
        )
        await conn.execute(
            tables.desk_messages.insert().values(
                conversation_id="conv-b",
                handoff_id="HO20261119-0901",
                kind="customer",
                text="转人工",
                sent_at=NOW - 100,
                created_at=now,
            )
        )
        await conn.execute(
            tables.counterfeit_reports.insert().values(
                id="CF20261119-0901",
                code=None,
                source="webchat:conv-c",
                conversation_id="conv-c",
                where_bought="淘宝某店",
                contact=None,
                note="",
                status="open",
                created_at=now,
            )
        )
        await conn.execute(
            tables.security_queries.insert().values(
                code="4409118722650031", source="webchat:conv-a", result="genuine", queried_at=now
            )
        )
        await conn.execute(
            tables.desk_audit.insert().values(
                action="callback_requested",
                handoff_id="HO20261119-0901",
                detail={"phone": PHONE},
                at=now,
            )
        )
    return {"mine": serials[0], "theirs": serials[1]}


async def test_export_holds_everything_about_the_customer_and_nothing_else(
    db: Database, clock: Clock, stores: Stores
) -> None:
    serials = await _customer(db, clock)
    held = await privacy.export(stores, "138 0013 8000", clock.now(), "tester")
    assert [w["id"] for w in held["work_orders"]] == ["WO20261119-0901"]
    assert held["work_orders"][0]["address"] == "北京市海淀区学院路30号"
    assert [e["note"] for e in held["work_order_events"]] == ["客户电话 138-0013-8000 已确认"]
    assert [d["serial"] for d in held["devices"]] == [serials["mine"]]
    assert [h["id"] for h in held["handoffs"]] == ["HO20261119-0901"]
    assert held["desk_assignments"][0]["callback_phone"] == "138 0013 8000"
    assert [c["id"] for c in held["complaints"]] == ["CP20261119-0901"]
    assert [r["id"] for r in held["counterfeit_reports"]] == ["CF20261119-0901"]
    assert [m["text"] for m in held["desk_messages"]] == ["转人工"]
    assert sorted(held["conversations"]) == ["conv-a", "conv-b", "conv-c"]
    said = [e["text"] for e in held["conversations"]["conv-a"] if e["event"] == "user"]
    assert said == ["我想预约维修", "我的电话 138 0013 8000"]
    json.dumps(held, ensure_ascii=False)
    async with db.read() as conn:
        entry = (
            await conn.execute(
                select(tables.desk_audit.c.detail).where(
                    tables.desk_audit.c.action == "privacy_export"
                )
            )
        ).scalar_one()
    assert entry["phone"] == "138****8000" and entry["by"] == "tester"
    assert PHONE not in json.dumps(entry)


async def test_erase_leaves_nothing_of_the_customer_and_everything_of_others(
    db: Database, clock: Clock, stores: Stores, rasa: Rasa
) -> None:
    serials = await _customer(db, clock)
    counts = await privacy.erase(stores, "+86 13800138000", clock.now(), "tester")
    assert counts["work_orders"] == 1 and counts["open_work_orders"] == 1
    assert counts["devices"] == 1 and counts["handoffs"] == 1 and counts["complaints"] == 1
    # conv-a, conv-b, conv-c: three events per message.
    assert counts["tracker_events"] >= 4 * 3
    async with db.read() as conn:
        w = tables.work_orders
        mine = (await conn.execute(select(w).where(w.c.id == "WO20261119-0901"))).one()
        assert (mine.customer_name, mine.phone, mine.address, mine.conversation_id) == (
            None,
            None,
            None,
            None,
        )
        assert mine.rating_comment is None and mine.idempotency_key is None
        # The repair record itself stays.
        assert (mine.status, mine.fault, mine.station_code) == ("scheduled", "打印机卡纸", "BJ01")
        theirs = (await conn.execute(select(w).where(w.c.id == "WO20261119-0902"))).one()
        assert (theirs.phone, theirs.conversation_id) == (OTHER, "conv-z")
        notes = dict(
            (
                await conn.execute(
                    select(
                        tables.work_order_events.c.work_order_id, tables.work_order_events.c.note
                    ).where(tables.work_order_events.c.work_order_id.like("WO20261119-09%"))
                )
            ).all()
        )
        assert notes == {
            "WO20261119-0901": "客户电话 [已删除] 已确认",
            "WO20261119-0902": f"客户电话 {OTHER} 已确认",
        }
        d = tables.devices
        devices = {
            r.serial: (r.customer_name, r.customer_phone, r.city)
            for r in await conn.execute(select(d).where(d.c.serial.in_(serials.values())))
        }
        assert devices[serials["mine"]] == (None, None, None)
        assert devices[serials["theirs"]] == ("李雷", OTHER, "上海")
        handoff = (await conn.execute(select(tables.handoffs))).one()
        assert handoff.package == {} and handoff.conversation_id == "erased:HO20261119-0901"
        assert (await conn.scalar(select(tables.desk_assignments.c.callback_phone))) is None
        complaint = (await conn.execute(select(tables.complaints))).one()
        assert (complaint.text, complaint.contact, complaint.conversation_id) == (
            "[已删除]",
            None,
            None,
        )
        report = (await conn.execute(select(tables.counterfeit_reports))).one()
        assert (report.source, report.conversation_id) == ("erased", None)
        assert await conn.scalar(select(func.count()).select_from(tables.desk_messages)) == 0
        sources = set(await conn.scalars(select(tables.security_queries.c.source)))
        assert "webchat:conv-a" not in sources
        audit = {
            r.action: r.detail
            for r in await conn.execute(
                select(tables.desk_audit.c.action, tables.desk_audit.c.detail)
            )
        }
    assert audit["callback_requested"] == {"phone": "[已删除]"}
    assert audit["privacy_erase"]["phone"] == "138****8000"
    assert audit["privacy_erase"]["by"] == "tester"
    # Rasa's stores: only the other customer's conversation is left.
    assert set(await _senders(rasa.tracker_async)) == {"conv-z"}
    left = await _senders(rasa.broker_async)
    assert set(left) <= {"conv-z", ""} and left["conv-z"] == 3
    # Nothing is found any more.
    held = await privacy.export(stores, PHONE, clock.now(), "tester")
    assert not any(held[k] for k in held if k != "phone")


async def test_erase_keeps_the_event_tables_newest_id(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    """The desk reads the broker's table from a cursor over ids: SQLite must not hand the
    newest id out again after an erasure."""
    await _rasa_stores(tmp_path, {"conv-z": [(NOW - 60, "你好")], "conv-a": [(NOW - 30, PHONE)]})
    async with open_stores(
        db, f"sqlite:///{tmp_path / 'rasa.db'}", f"sqlite:///{tmp_path / 'events.db'}"
    ) as opened:
        await privacy.erase(opened, PHONE, clock.now(), "tester")
    broker = f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
    engine = create_async_engine(broker)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, sender_id, data FROM events"))).all()
    await engine.dispose()
    assert [r.sender_id for r in rows] == ["conv-z"] * 3 + [""]
    assert rows[-1].id == 6 and json.loads(rows[-1].data) == {"event": "erased"}


async def test_purge_applies_the_retention(db: Database, clock: Clock, tmp_path: Path) -> None:
    now = clock.now()
    async with db.write() as conn:
        await _work_order(
            conn,
            "WO20221101-0001",
            PHONE,
            "old-1",
            status="closed",
            updated=now - timedelta(days=1200),
        )
        await _work_order(
            conn,
            "WO20221101-0002",
            PHONE,
            "old-2",
            status="cancelled",
            updated=now - timedelta(days=1100),
        )
        await _work_order(
            conn,
            "WO20241101-0001",
            PHONE,
            "recent",
            status="closed",
            updated=now - timedelta(days=400),
        )
        await _work_order(
            conn,
            "WO20221101-0003",
            PHONE,
            "open",
            status="diagnosing",
            updated=now - timedelta(days=1200),
        )
        for days, words in ((200, "旧的"), (10, "新的")):
            await conn.execute(
                tables.desk_messages.insert().values(
                    conversation_id="old-1",
                    kind="customer",
                    text=words,
                    sent_at=NOW - days * DAY,
                    created_at=Clock.to_db(now - timedelta(days=days)),
                )
            )
    await _rasa_stores(
        tmp_path,
        {
            "stale": [(NOW - 400 * DAY, "去年的话"), (NOW - 181 * DAY, "半年前的话")],
            "fresh": [(NOW - 179 * DAY, "还在保留期内"), (NOW - DAY, "昨天")],
        },
    )
    async with open_stores(
        db, f"sqlite:///{tmp_path / 'rasa.db'}", f"sqlite:///{tmp_path / 'events.db'}"
    ) as opened:
        counts = await privacy.purge(opened, Retention(1095, 180), now, NOW, "cron")
    assert counts["work_orders"] == 2 and counts["desk_messages"] == 1
    async with db.read() as conn:
        w = tables.work_orders
        phones = dict(
            (await conn.execute(select(w.c.id, w.c.phone).where(w.c.id.like("WO202_1101-%")))).all()
        )
        assert phones == {
            "WO20221101-0001": None,
            "WO20221101-0002": None,
            "WO20241101-0001": PHONE,
            "WO20221101-0003": PHONE,
        }
        audit = (
            await conn.execute(
                select(tables.desk_audit.c.detail).where(
                    tables.desk_audit.c.action == "privacy_purge"
                )
            )
        ).scalar_one()
    assert audit["by"] == "cron" and audit["work_orders"] == 2
    tracker = f"sqlite+aiosqlite:///{tmp_path / 'rasa.db'}"
    assert await _senders(tracker) == {"fresh": 6}
    broker = await _senders(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
    assert broker == {"fresh": 6}
    # Running it again finds nothing more to do.
    async with open_stores(
        db, f"sqlite:///{tmp_path / 'rasa.db'}", f"sqlite:///{tmp_path / 'events.db'}"
    ) as opened:
        again = await privacy.purge(opened, Retention(1095, 180), now, NOW, "cron")
    assert not any(again.values())


def test_the_command_line(
    database_url: str,
    rasa: Rasa,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_DATABASE_URL", database_url)
    monkeypatch.setenv("BOT_TRACKER_DB_URL", rasa.tracker)
    monkeypatch.setenv("BOT_DESK_EVENTS_URL", rasa.broker)
    assert main(["privacy", "export", "--phone", "138 0013 8000"]) == 0
    held: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert sorted(held["conversations"]) == ["conv-a", "conv-c"]
    assert main(["privacy", "erase", "--phone", "138 0013 8000"]) == 0
    assert json.loads(capsys.readouterr().out)["tracker_events"] == 9
    assert main(["privacy", "purge"]) == 0
    assert json.loads(capsys.readouterr().out)["tracker_events"] == 0
    assert main(["privacy", "erase", "--phone", "王先生"]) == 2
    assert "not a phone number" in capsys.readouterr().err
