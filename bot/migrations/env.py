"""Alembic environment: runs on the synchronous driver of the configured database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from bot.db import ensure_sqlite_dir, is_sqlite, sync_url
from bot.tables import metadata

_configured = context.config.get_main_option("database_url")
if not _configured:
    raise RuntimeError("set database_url on the Alembic config (bot.migrate does)")
url: str = _configured


def run() -> None:
    ensure_sqlite_dir(url)
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            # SQLite cannot ALTER most things in place; batch mode copies the table instead.
            render_as_batch=is_sqlite(url),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
