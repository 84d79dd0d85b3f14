"""What each of rasa_ext's changes saves per call, in one process, against Rasa's original.

- the action server answer check: Rasa's `RemoteAction._validate_action_result` against the
  validator built once (`rasa_ext.overrides`);
- one event published: Rasa's SQL event broker against `rasa_ext.sqlite.SQLiteEventBroker`;
- one turn saved (eight new events) with its events published: Rasa's SQL tracker store and
  SQL event broker against `SQLiteTrackerStore` and `SQLiteEventBroker`; a conversation has
  ten turns, then the next one starts;
- a conversation read back (Rasa's ORM query against SQLAlchemy Core).

CPU time and wall time per call (a disk's sync shows in wall time only). Both SQLite files
are in a temporary folder on the same disk as var/.
Usage: python scripts/bench_rasa_ext.py [calls, default 300]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rasa.core.actions.action import RemoteAction
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_ext import overrides
from rasa_ext.sqlite import SQLiteEventBroker, SQLiteTrackerStore

ANSWER: dict[str, Any] = {
    "events": [
        {"event": "slot", "name": "serial_number", "value": "PF2K7Q9A", "timestamp": None},
        {"event": "slot", "name": "warranty_status", "value": "in_warranty", "timestamp": None},
    ],
    "responses": [{"response": "utter_warranty_verdict", "buttons": [], "attachment": None}],
}


def timed(calls: int, call: Callable[[int], object]) -> tuple[float, float]:
    """CPU ms and wall ms per call."""
    call(-1)  # first call: imports, table creation, connection
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(calls):
        call(n)
    return (
        (time.process_time() - cpu) * 1000 / calls,
        (time.perf_counter() - wall) * 1000 / calls,
    )


def turn(n: int) -> list[Any]:
    return [
        UserUttered(f"第{n}条 PF2K7Q9A 还在保修期内吗", intent={"name": "ask_warranty"}),
        SlotSet("serial_number", "PF2K7Q9A"),
        ActionExecuted("warranty_form"),
        SlotSet("requested_slot", None),
        ActionExecuted("action_warranty_verdict"),
        SlotSet("warranty_status", "in_warranty"),
        BotUttered("在保修期内", {"buttons": []}),
        ActionExecuted("action_listen"),
    ]


def publish(broker: Any) -> Callable[[int], None]:
    def one(n: int) -> None:
        broker.publish({"sender_id": "bench", "event": "user", "text": f"第{n}条 打印机卡纸"})

    return one


def save_turns(store: Any) -> Callable[[int], None]:
    trackers: dict[int, DialogueStateTracker] = {}

    def save(n: int) -> None:
        tracker = trackers.setdefault(
            n // 10,
            DialogueStateTracker.from_events(f"bench{n // 10}", [ActionExecuted("action_listen")]),
        )
        for event in turn(n):
            tracker.update(event)
        asyncio.run(store.save(tracker))

    return save


def read(store: Any, conversations: int) -> Callable[[int], None]:
    """Read back the conversations save_turns wrote (up to ten turns each)."""

    def one(n: int) -> None:
        asyncio.run(store.retrieve(f"bench{abs(n) % max(conversations, 1)}"))

    return one


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    action = RemoteAction("action_warranty_verdict", None)
    rows: list[tuple[str, str, tuple[float, float]]] = [
        (
            "answer check",
            "Rasa's",
            timed(calls, lambda _: overrides.ORIGINAL(action, ANSWER)),
        ),
        (
            "answer check",
            "built once",
            timed(calls, lambda _: overrides.validate_action_result(action, ANSWER)),
        ),
    ]
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parents[1] / "var") as folder:
        for name, cls in (("Rasa's", SQLEventBroker), ("WAL", SQLiteEventBroker)):
            broker = cls(dialect="sqlite", db=f"{folder}/{name[:3]}-events.db")
            rows.append(("publish one event", name, timed(calls, publish(broker))))
        domain = Domain.empty()
        for name, tracker_cls, broker_cls in (
            ("Rasa's", SQLTrackerStore, SQLEventBroker),
            ("rasa_ext", SQLiteTrackerStore, SQLiteEventBroker),
        ):
            store = tracker_cls(
                domain=domain,
                dialect="sqlite",
                db=f"{folder}/{name[:3]}-rasa.db",
                event_broker=broker_cls(dialect="sqlite", db=f"{folder}/{name[:3]}-turns.db"),
            )
            rows.append(("save a turn + publish", name, timed(calls // 3, save_turns(store))))
            rows.append(("read a conversation", name, timed(calls, read(store, calls // 30))))
    print(f"{'what':<24} {'how':<11} {'CPU ms':>8} {'wall ms':>8}")
    for what, how, (cpu, wall) in rows:
        print(f"{what:<24} {how:<11} {cpu:>8.2f} {wall:>8.2f}")


if __name__ == "__main__":
    main()
