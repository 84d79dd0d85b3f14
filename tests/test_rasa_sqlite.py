"""Rasa's tracker store and event broker on SQLite (rasa_ext.sqlite): what endpoints.yml names
is what Rasa builds, the files are in WAL mode, and every event reaches the table the desk
reads, in order, while another connection reads it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import yaml
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
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
