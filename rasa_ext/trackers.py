"""Rasa's SQL tracker store, saving a turn with one count instead of two reads.

Rasa's `SQLTrackerStore.save` first reads the whole stored conversation again (`stream_events`)
to find the events the event broker has not had, publishes them one commit each, then counts
the stored events once more (`_additional_events`) to find those the table has not had, and
adds an ORM object per event. Here the new events are counted once, published in one go (one
transaction where the broker can, `publish_many`) and inserted in one statement; reads go
through SQLAlchemy Core instead of an ORM object per event. The tables and what ends up in
them are Rasa's (tests/test_rasa_sqlite.py compares both stores turn by turn).

`SQLiteTrackerStore` (embedded) and `connectors.stores.SteadySQLTrackerStore` (scale-out, on
PostgreSQL) are built on it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker


@dataclass
class Saving:
    """One save, across attempts: a retried write must not publish the turn twice."""

    published: bool = False


class LeanSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store (same tables, same options), lean on reads."""

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
        self._write(tracker, Saving())

    def _write(self, tracker: DialogueStateTracker, saving: Saving) -> None:
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
            if self.event_broker is not None and not saving.published:
                publish_all(self.event_broker, ({"sender_id": sender, **data} for data in new))
                saving.published = True
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
    publish_many = getattr(broker, "publish_many", None)
    if callable(publish_many):
        publish_many(bodies)
    else:
        for body in bodies:
            broker.publish(body)
