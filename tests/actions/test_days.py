"""Saying dates to customers: the weekday always, 今天/明天 by name, the year when it differs.

The clock is frozen (the actions' clock set to a fixed Friday), as the action server's is
with BOT_CLOCK; the words are the domain's labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from actions import common
from actions.days import as_date, day_key, day_text
from actions.workorders.slots import slot_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Friday 2026-11-20, 23:30 in Shanghai (15:30 UTC): the day is Shanghai's, the service's zone.
FROZEN = datetime(2026, 11, 20, 23, 30, tzinfo=SHANGHAI)


@pytest.fixture
def frozen() -> Iterator[None]:
    common.use_clock(common.clock_from_env({"BOT_CLOCK": FROZEN.replace(tzinfo=None).isoformat()}))
    yield
    common.use_clock(None)


@pytest.mark.parametrize(
    ("day", "said"),
    [
        (date(2026, 11, 20), "今天 11月20日 周五"),
        (date(2026, 11, 21), "明天 11月21日 周六"),
        (date(2026, 11, 22), "11月22日 周日"),
        (date(2026, 11, 23), "11月23日 周一"),
        (date(2026, 11, 19), "11月19日 周四"),  # yesterday: no name, the date and weekday
        (date(2026, 12, 31), "12月31日 周四"),
        (date(2027, 1, 1), "2027年1月1日 周五"),
        (date(2028, 11, 17), "2028年11月17日 周五"),
        (date(2025, 3, 2), "2025年3月2日 周日"),
    ],
)
def test_a_date_is_said_with_its_weekday(
    domain: dict[str, Any], frozen: None, day: date, said: str
) -> None:
    assert day_text(domain, day) == said


def test_the_frozen_clock_decides_what_today_is(domain: dict[str, Any], frozen: None) -> None:
    # Late on Friday evening: today is still Friday, tomorrow Saturday.
    assert day_text(domain, "2026-11-20") == "今天 11月20日 周五"
    assert day_text(domain, datetime(2026, 11, 21, 9, 0)) == "明天 11月21日 周六"
    # Given a day explicitly, the clock is not asked.
    assert day_text(domain, date(2026, 11, 21), today=date(2026, 11, 21)) == "今天 11月21日 周六"


def test_a_slot_is_said_with_its_day(domain: dict[str, Any], frozen: None) -> None:
    assert (
        slot_text(domain, date(2026, 11, 21), "09:00", "10:30") == "明天 11月21日 周六 09:00-10:30"
    )
    assert slot_text(domain, "2026-11-24", "13:30", "15:30") == "11月24日 周二 13:30-15:30"


def test_what_is_no_date_is_said_as_it_is(domain: dict[str, Any], frozen: None) -> None:
    assert as_date("not a date") is None and day_text(domain, "尽快") == "尽快"
    assert day_text(domain, None) == ""


def test_which_words(frozen: None) -> None:
    friday = date(2026, 11, 20)
    assert [day_key(date(2026, 11, d), friday) for d in (20, 21, 22)] == [
        "date_today",
        "date_tomorrow",
        "date",
    ]
    assert day_key(date(2027, 1, 1), friday) == "date_other_year"
