"""Settings of the service backend, read from the environment only."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.clock import Clock

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "var"


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _moment(env: dict[str, str], name: str, tz: ZoneInfo) -> datetime | None:
    raw = env.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO date and time, got {raw!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


@dataclass(frozen=True)
class Settings:
    """Everything the backend needs to start; build with `Settings.from_env()`."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    # Bodies are small JSON documents; anything larger is a mistake or an attack.
    max_body_bytes: int = 64 * 1024
    # Anti-counterfeit brute-force guard: per source, sliding windows.
    verify_per_minute: int = 10
    verify_unknown_per_hour: int = 20
    # How far ahead customers may book a repair slot.
    booking_horizon_days: int = 14
    # A booking, reschedule or cancellation must be at least this long before the slot starts.
    booking_lead_minutes: int = 60
    # BOT_CLOCK freezes the service's time (a demo or a training session on a chosen day, the
    # conversation tests): work-order ids, slots and warranty ages then never drift.
    frozen_at: datetime | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("BOT_DATA_DIR") or DEFAULT_DATA_DIR)
        url = env.get("BOT_DATABASE_URL") or f"sqlite:///{data_dir / 'bot.db'}"
        timezone = ZoneInfo(env.get("BOT_TIMEZONE", "Asia/Shanghai"))
        return cls(
            database_url=url,
            host=env.get("BOT_HOST", "127.0.0.1"),
            port=_int(env, "BOT_PORT", 8000),
            timezone=timezone,
            max_body_bytes=_int(env, "BOT_MAX_BODY_BYTES", 64 * 1024),
            verify_per_minute=_int(env, "BOT_VERIFY_PER_MINUTE", 10),
            verify_unknown_per_hour=_int(env, "BOT_VERIFY_UNKNOWN_PER_HOUR", 20),
            booking_horizon_days=_int(env, "BOT_BOOKING_HORIZON_DAYS", 14),
            booking_lead_minutes=_int(env, "BOT_BOOKING_LEAD_MINUTES", 60),
            frozen_at=_moment(env, "BOT_CLOCK", timezone),
        )

    def clock(self) -> Clock:
        return Clock(self.timezone, fixed=self.frozen_at)
