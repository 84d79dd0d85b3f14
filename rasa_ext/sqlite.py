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
- a turn saved with one count and its events published in one transaction
  (`rasa_ext.trackers.LeanSQLTrackerStore`, `SQLiteEventBroker.publish_many`).

Nothing changes in the tables: the desk reads the broker's table from its cursor as before,
and the stores work on any other dialect as Rasa's own do (the options apply to SQLite only).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.sql import SQLEventBroker
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from rasa_ext.trackers import LeanSQLTrackerStore

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


class SQLiteTrackerStore(LeanSQLTrackerStore):
    """Rasa's SQL tracker store (same table, same options), tuned on SQLite."""

    engine: Engine

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine = tuned(self.engine)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)


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
