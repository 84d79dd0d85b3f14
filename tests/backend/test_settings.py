from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.clock import Clock
from bot.desk.waiting import notice_for
from bot.settings import Settings


def test_the_clock_runs_unless_bot_clock_freezes_it() -> None:
    assert Settings.from_env({}).frozen_at is None
    frozen = Settings.from_env({"BOT_CLOCK": "2026-11-20T10:00"}).clock()
    assert frozen.now() == datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert frozen.today().isoformat() == "2026-11-20"
    utc = Settings.from_env({"BOT_CLOCK": "2026-11-20T18:00:00+00:00"}).clock()
    assert utc.today().isoformat() == "2026-11-21"  # already the next day in Shanghai


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BOT_CLOCK", "明天"),
        ("BOT_PORT", "eighty"),
        ("BOT_DESK_HOURS", "9-21"),
        ("BOT_DESK_HOURS", "21:00-09:00"),
        ("BOT_DESK_WAIT_SECONDS", "3分钟"),
        ("BOT_PUBLIC_URL", "chat.example.com"),
        ("BOT_REDIS_URL", "localhost:6379"),
        ("BOT_TRUSTED_PROXIES", "10.0.0.1, the-proxy"),
        ("BOT_RETENTION_TRANSCRIPTS_DAYS", "0"),
        ("BOT_RETENTION_WORK_ORDERS_DAYS", "三年"),
    ],
)
def test_a_bad_setting_names_itself(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_desk_hours_and_when_a_waiting_customer_is_told() -> None:
    settings = Settings.from_env({"BOT_DESK_HOURS": "08:30-20:00", "BOT_DESK_WAIT_SECONDS": "60"})
    tz = settings.timezone
    created = datetime(2026, 11, 20, 10, 0, tzinfo=tz)

    def at(hour: int, minute: int, second: int = 0) -> Clock:
        return Clock(tz, fixed=datetime(2026, 11, 20, hour, minute, second, tzinfo=tz))

    assert notice_for(settings, at(10, 0, 59), created) is None
    assert notice_for(settings, at(10, 1), created) == "utter_desk_no_agent"
    assert notice_for(settings, at(20, 0), datetime(2026, 11, 20, 20, 0, tzinfo=tz)) == (
        "utter_desk_after_hours"
    )
    assert notice_for(settings, at(8, 29), datetime(2026, 11, 20, 8, 29, tzinfo=tz)) == (
        "utter_desk_after_hours"
    )


def test_exposure_and_privacy_settings() -> None:
    default = Settings.from_env({"BOT_PORT": "8100"})
    assert default.public_origins == ("http://127.0.0.1:8100", "http://localhost:8100")
    assert default.redis_url is None and default.trusted_proxies == ()
    assert (default.retention_work_orders_days, default.retention_transcripts_days) == (1095, 180)
    assert default.tracker_db_url.endswith("/var/rasa.db")
    assert (
        Settings.from_env({"BOT_DATA_DIR": "/srv/x"}).tracker_db_url == "sqlite:////srv/x/rasa.db"
    )
    opened = Settings.from_env(
        {
            "BOT_PUBLIC_URL": "https://Service.example.com/chat/",
            "BOT_TRUSTED_PROXIES": "10.0.0.2, 192.168.0.0/16",
            "BOT_REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert opened.public_origins == ("https://service.example.com",)
    assert [str(n) for n in opened.trusted_proxies] == ["10.0.0.2/32", "192.168.0.0/16"]
    assert "redis" not in repr(opened)
