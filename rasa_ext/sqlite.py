"""Rasa's SQL tracker store and SQL event broker on SQLite, made fit for many customers at once.

Rasa writes both synchronously on its event loop: the tracker store one commit per turn, the
event broker one commit per event (six to ten a turn). On SQLite's defaults each commit
opens the file anew (SQLAlchemy 1.4 pools no connection to a SQLite file) and syncs the
rollback journal to disk several times; under load that was a third of Rasa's CPU time and
all turns wait for it. Here, through Rasa's extension points (a custom tracker store and a
custom event broker, `type: rasa_ext.sqlite.…` in endpoints.yml):

- write-ahead log (`journal_mode=WAL`): a commit appends to the log, readers (the desk, the
  backend's erasure) never block the writer;
- `synchronous=NORMAL`: the log is synced at checkpoints, not at every commit. A crash of
  Rasa loses nothing committed; a power cut may lose the last commits, which a customer's
  retried message (`message_id`) repeats;
- one pooled connection reused, instead of a new one per commit;
- a turn saved with one count: Rasa's save reads the whole stored conversation again to find
  the new events for the broker, counts them a second time for the table, and commits the
  broker one event at a time. Here the new events are counted once, published in one
  transaction and inserted in one statement (`SQLiteTrackerStore.save`).

Nothing changes in the tables: the desk reads the broker's table from its cursor as before,
and the stores work on any other dialect as Rasa's own do (the options apply to SQLite only).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

# Another process (the desk, a second Rasa) may hold the write lock for a moment: wait for it.
BUSY_TIMEOUT_MS = 5000


def _pragmas(connection: sqlite3.Connection, _record: Any) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def tuned(engine: Engine) -> Engine:
    """The same database with WAL, synchronous=NORMAL and pooled connections (SQLite only)."""
    if engine.dialect.name != "sqlite":
        return engine
    url = engine.url
    engine.dispose()
    faster = sa.create_engine(
        url,
        poolclass=QueuePool,
        pool_size=2,
        max_overflow=2,
        # Rasa uses a connection on its event loop's thread and, rarely, in a worker thread;
        # the pool hands each connection to one user at a time.
        connect_args={"check_same_thread": False},
    )
    sa.event.listen(faster, "connect", _pragmas)
    return faster


class SQLiteTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store (same table, same options), tuned on SQLite."""

    engine: Engine

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine = tuned(self.engine)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def _events(self, sender: str, all_sessions: bool) -> sa.sql.Select:
        """Rasa's `_event_query` in SQLAlchemy Core: the stored events of a conversation, of
        its latest session (from its last `session_started`) unless `all_sessions`."""
        e = self.SQLEvent.__table__
        query = sa.select(e.c.data).where(e.c.sender_id == sender)
        if not all_sessions:
            start = (
                sa.select(sa.func.max(e.c.timestamp))
                .where(e.c.sender_id == sender, e.c.type_name == SessionStarted.type_name)
                .scalar_subquery()
            )
            query = query.where(sa.or_(e.c.timestamp >= start, start.is_(None)))
        return query.order_by(e.c.id)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Rasa's `_retrieve` without an ORM object per event."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._events(sender_id, fetch_events_from_all_sessions))
            events = [json.loads(data) for (data,) in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save (broker first, then the table) with one count instead of two reads.

        The new events are those after the ones stored since the session started: the same
        count Rasa's `_additional_events` makes, and the same as the length of the tracker
        Rasa's `stream_events` retrieves again only to compare.
        """
        sender = tracker.sender_id
        latest = self._events(sender, all_sessions=False).order_by(None).subquery()
        with self.engine.begin() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(latest)).scalar_one()
            events = list(itertools.islice(tracker.events, stored, None))
            if not events:
                return
            new = [event.as_dict() for event in events]
            if self.event_broker is not None:
                publish_all(self.event_broker, ({"sender_id": sender, **data} for data in new))
            conn.execute(
                self.SQLEvent.__table__.insert(),
                [
                    {
                        "sender_id": sender,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                    for event, data in zip(events, new, strict=True)
                ],
            )


def publish_all(broker: EventBroker, bodies: Iterable[dict[str, Any]]) -> None:
    """Publish the events of one turn, in one transaction where the broker can."""
    if isinstance(broker, SQLiteEventBroker):
        broker.publish_many(bodies)
    else:
        for body in bodies:
            broker.publish(body)


class SQLiteEventBroker(SQLEventBroker):
    """Rasa's SQL event broker (same table, same options), tuned on SQLite."""

    engine: Engine

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine = tuned(self.engine)
        self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)

    def publish(self, event: dict[str, Any]) -> None:
        self.publish_many((event,))

    def publish_many(self, events: Iterable[dict[str, Any]]) -> None:
        """Rows in order, in one transaction: the desk's cursor never sees half a turn."""
        rows = [{"sender_id": e.get("sender_id"), "data": json.dumps(e)} for e in events]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(self.SQLBrokerEvent.__table__.insert(), rows)
