"""Rasa's tracker store and event broker on SQLite (rasa_ext.sqlite): what endpoints.yml names
is what Rasa builds, the files are in WAL mode, and every event reaches the table the desk
reads, in order, while another connection reads it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import yaml
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from rasa_ext.sqlite import SQLiteEventBroker, SQLiteTrackerStore
from tests.support.stack import ROOT


def _endpoint(section: str, folder: Path) -> EndpointConfig:
    """The section of the project's endpoints.yml, on a file in `folder`."""
    config = dict(yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))[section])
    config["db"] = str(folder / Path(config["db"]).name)
    return EndpointConfig.from_dict(config)


def _journal_mode(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


async def test_endpoints_yml_builds_the_sqlite_tracker_store(tmp_path: Path) -> None:
    # A wrong `type` would make Rasa fall back to keeping conversations in memory, silently.
    store = TrackerStore.create(_endpoint("tracker_store", tmp_path), Domain.empty())
    assert isinstance(getattr(store, "_tracker_store", store), SQLiteTrackerStore)


async def test_endpoints_yml_builds_the_sqlite_event_broker(tmp_path: Path) -> None:
    broker = await EventBroker.create(_endpoint("event_broker", tmp_path))
    assert isinstance(broker, SQLiteEventBroker)


async def test_a_conversation_is_kept_in_a_wal_file(tmp_path: Path) -> None:
    store = SQLiteTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(tmp_path / "r.db"))
    tracker = DialogueStateTracker.from_events(
        "c1", [ActionExecuted("action_listen"), UserUttered("你好"), BotUttered("您好")]
    )
    await store.save(tracker)
    tracker.update(UserUttered("谢谢"))
    await store.save(tracker)
    again = await store.retrieve("c1")
    assert again is not None
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["你好", "谢谢"]
    assert _journal_mode(tmp_path / "r.db") == "wal"


def test_every_published_event_is_in_the_table_in_order(tmp_path: Path) -> None:
    broker = SQLiteEventBroker(dialect="sqlite", db=str(tmp_path / "events.db"))
    reader = sqlite3.connect(tmp_path / "events.db")
    try:
        seen: list[str] = []
        for n in range(30):
            broker.publish({"sender_id": f"c{n % 3}", "event": "user", "text": str(n)})
            # The desk reads while Rasa writes: nothing appears out of order or twice.
            seen = [row[0] for row in reader.execute("SELECT sender_id FROM events ORDER BY id")]
        assert len(seen) == 30
        assert seen[:3] == ["c0", "c1", "c2"]
        assert _journal_mode(tmp_path / "events.db") == "wal"
    finally:
        reader.close()


def _turn(n: int) -> list[Any]:
    return [
        UserUttered(f"第{n}句", intent={"name": "ask_warranty"}),
        ActionExecuted("action_warranty_verdict"),
        BotUttered(f"答复{n}", {"buttons": [{"title": "好", "payload": "/affirm"}]}),
        ActionExecuted("action_listen"),
    ]


def _stores(
    folder: Path, name: str, store_cls: type[SQLTrackerStore], broker_cls: type[SQLEventBroker]
) -> SQLTrackerStore:
    return store_cls(
        domain=Domain.empty(),
        dialect="sqlite",
        db=str(folder / f"{name}-rasa.db"),
        event_broker=broker_cls(dialect="sqlite", db=str(folder / f"{name}-ev.db")),
    )


async def test_a_save_stores_and_publishes_what_rasas_own_stores_do(tmp_path: Path) -> None:
    # The faster save counts the stored events once instead of reading the conversation
    # again: both tables must end up as Rasa's, over several turns, a save with nothing new,
    # a restart and a new session in the same conversation.
    turns = [_turn(n) for n in range(3)]
    restart = [ActionExecuted("action_session_start"), SessionStarted(), *_turn(9)]
    later = _turn(10)
    tables: dict[str, tuple[Any, ...]] = {}
    for name, store_cls, broker_cls in (
        ("rasa", SQLTrackerStore, SQLEventBroker),
        ("ours", SQLiteTrackerStore, SQLiteEventBroker),
    ):
        first = _stores(tmp_path, name, store_cls, broker_cls)
        tracker = DialogueStateTracker.from_events("c1", [])
        for events in turns:
            for event in events:
                tracker.update(event)
            await first.save(tracker)
        await first.save(tracker)
        second = _stores(tmp_path, name, store_cls, broker_cls)
        again = await second.retrieve("c1")
        assert again is not None
        for event in restart:
            again.update(event)
        await second.save(again)
        # A turn of the new session: Rasa reads and counts only the events since it started.
        third = _stores(tmp_path, name, store_cls, broker_cls)
        latest = await third.retrieve("c1")
        assert latest is not None
        for event in later:
            latest.update(event)
        await third.save(latest)
        reread = _stores(tmp_path, name, store_cls, broker_cls)
        read = [await reread.retrieve("c1"), await reread.retrieve_full_tracker("c1")]
        assert await reread.retrieve("nobody") is None
        with sqlite3.connect(tmp_path / f"{name}-rasa.db") as db:
            stored = db.execute(
                "SELECT sender_id, type_name, intent_name, action_name, data"
                " FROM events ORDER BY id"
            ).fetchall()
        with sqlite3.connect(tmp_path / f"{name}-ev.db") as db:
            published = db.execute("SELECT sender_id, data FROM events ORDER BY id").fetchall()
        tables[name] = (stored, published, [[e.as_dict() for e in t.events] for t in read if t])
    assert len(tables["ours"][0]) == len(tables["ours"][1]) == 3 * 4 + 2 + 4 + 4
    assert [len(events) for events in tables["ours"][2]] == [1 + 4 + 4, 3 * 4 + 2 + 4 + 4]
    assert tables["ours"] == tables["rasa"]
