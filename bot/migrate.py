"""Schema migrations (Alembic), run by `python -m bot migrate` and at `make run`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's option store uses ConfigParser interpolation: escape % in passwords.
    config.set_main_option("database_url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def revise(database_url: str, message: str) -> None:
    """Write a new migration from the difference between the tables and the database."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
