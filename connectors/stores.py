"""Rasa's SQL tracker store, made to ride out a restart of its database (scale-out).

Measured by `make bench-faults ARGS=--scale-out` with Rasa's own `SQLTrackerStore`: its
pooled connections die with a PostgreSQL restart and the next turn on each fails. Rasa wraps
every tracker store in its `FailSafeTrackerStore`, which turns a failed read into a new, empty
conversation (a booking form half filled in is forgotten) and a failed write into a turn kept
only in the process's memory (the customer is answered, the conversation never learns it).

This store checks a pooled connection before using it (`pool_pre_ping`), and while the
database does not answer it waits and tries again for up to `RETRY_SECONDS`, so a restart of
a few seconds delays those turns instead of breaking them. Trying a write again is safe: only
the events after those already in the table are stored (`rasa_ext.trackers`), and the events
go to the event broker once, before the table, as Rasa does.
endpoints.scale.yml names it: `type: connectors.stores.SteadySQLTrackerStore`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import InterfaceError, OperationalError

from rasa_ext.trackers import LeanSQLTrackerStore, Saving

log = logging.getLogger(__name__)

# The reply guard apologises after 20 s (CHANNEL_REPLY_TIMEOUT); a turn reads and writes.
RETRY_SECONDS = 8.0
PAUSE_SECONDS = 0.5
T = TypeVar("T")


class SteadySQLTrackerStore(LeanSQLTrackerStore):
    """Rasa's SQL tracker store, saving lean (`rasa_ext.trackers`), with checked connections
    and patience while its database restarts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rasa assigns it without a type.
        engine: sa.engine.Engine = self.engine  # type: ignore[has-type]
        url = engine.url
        engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _patiently(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        deadline = asyncio.get_running_loop().time() + RETRY_SECONDS
        while True:
            try:
                return await attempt()
            except (OperationalError, InterfaceError) as exc:
                if asyncio.get_running_loop().time() + PAUSE_SECONDS > deadline:
                    raise
                log.warning("tracker store: %s failed (%s); trying again", what, exc.orig)
                await asyncio.sleep(PAUSE_SECONDS)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        async def attempt() -> DialogueStateTracker | None:
            tracker: DialogueStateTracker | None = await LeanSQLTrackerStore._retrieve(
                self, sender_id, fetch_events_from_all_sessions
            )
            return tracker

        return await self._patiently("reading a conversation", attempt)

    async def save(self, tracker: DialogueStateTracker) -> None:
        # One `Saving` over the attempts: a write retried after a restart of the database
        # does not publish the turn's events a second time.
        saving = Saving()

        async def attempt() -> None:
            self._write(tracker, saving)

        await self._patiently("saving a conversation", attempt)
