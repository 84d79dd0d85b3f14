from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.settings import Settings


def test_the_clock_runs_unless_bot_clock_freezes_it() -> None:
    assert Settings.from_env({}).frozen_at is None
    frozen = Settings.from_env({"BOT_CLOCK": "2026-11-20T10:00"}).clock()
    assert frozen.now() == datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert frozen.today().isoformat() == "2026-11-20"
    utc = Settings.from_env({"BOT_CLOCK": "2026-11-20T18:00:00+00:00"}).clock()
    assert utc.today().isoformat() == "2026-11-21"  # already the next day in Shanghai


@pytest.mark.parametrize(("name", "value"), [("BOT_CLOCK", "明天"), ("BOT_PORT", "eighty")])
def test_a_bad_setting_names_itself(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})
