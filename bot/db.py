"""Database engines: SQLite files by default, PostgreSQL when its URL is set.

The same SQLAlchemy Core statements run on both. Writes go through `Database.write()`,
which on SQLite starts the transaction with ``BEGIN IMMEDIATE`` so that two writers never
both read and then both try to upgrade their lock (the "database is locked" deadlock); on
PostgreSQL the row locks taken by conditional UPDATEs do the same job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool


def _url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
        )
    return parsed


def async_url(url: str) -> URL:
    """The driver the service runs on: aiosqlite or asyncpg."""
    parsed = _url(url)
    driver = "aiosqlite" if parsed.get_backend_name() == "sqlite" else "asyncpg"
    return parsed.set(drivername=f"{parsed.get_backend_name()}+{driver}")


def sync_url(url: str) -> URL:
    """The driver migrations run on: the standard sqlite3 module or psycopg2."""
    parsed = _url(url)
    driver = "pysqlite" if parsed.get_backend_name() == "sqlite" else "psycopg2"
    return parsed.set(drivername=f"{parsed.get_backend_name()}+{driver}")


def is_sqlite(url: str) -> bool:
    return bool(_url(url).get_backend_name() == "sqlite")


def ensure_sqlite_dir(url: str) -> None:
    parsed = _url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")  # type: ignore[misc]
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged write survives a power cut, not only a restart.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")  # type: ignore[misc]
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(url: str) -> AsyncEngine:
    ensure_sqlite_dir(url)
    if is_sqlite(url):
        engine = create_async_engine(
            async_url(url),
            poolclass=AsyncAdaptedQueuePool,
            pool_size=5,
            max_overflow=10,
            connect_args={"timeout": 30},
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        async_url(url), pool_size=10, max_overflow=10, pool_pre_ping=True, pool_timeout=10
    )


class Database:
    """The service's handle on its database: short read and write transactions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits on success and rolls back on any error: no partial writes."""
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(write=True)
            async with conn.begin():
                yield conn

    async def close(self) -> None:
        await self.engine.dispose()


async def insert_ignore(conn: AsyncConnection, table: Any, values: dict[str, Any]) -> bool:
    """INSERT that does nothing when the primary key exists; True when a row was inserted."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    result = await conn.execute(stmt)
    return bool(result.rowcount == 1)


async def replayed(conn: AsyncConnection, table: Any, key: str | None) -> Any | None:
    """The row an earlier request with this Idempotency-Key created, if any.

    Clients (the action server, webhooks) retry on timeouts; a retried create must answer
    with the first result instead of creating a second work order or case.
    """
    if not key:
        return None
    return (await conn.execute(select(table).where(table.c.idempotency_key == key))).one_or_none()
