"""Reading the times customers give."""

from __future__ import annotations

from datetime import date

import pytest

from actions.dates import When, parse_when

FRIDAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("text", "days", "half"),
    [
        ("明天下午", (date(2026, 11, 21),), "pm"),
        ("后天上午", (date(2026, 11, 22),), "am"),
        ("大后天", (date(2026, 11, 23),), None),
        ("下周一上午", (date(2026, 11, 23),), "am"),
        ("周六", (date(2026, 11, 21),), None),
        ("星期三下午", (date(2026, 11, 25),), "pm"),
        ("礼拜天", (date(2026, 11, 22),), None),
        ("这周末", (date(2026, 11, 21), date(2026, 11, 22)), None),
        ("11月25号下午", (date(2026, 11, 25),), "pm"),
        ("十二月三号", (date(2026, 12, 3),), None),
        ("25号", (date(2026, 11, 25),), None),
        ("3号", (date(2026, 12, 3),), None),
        ("12/1", (date(2026, 12, 1),), None),
        ("明天", (date(2026, 11, 21),), None),
        ("尽快，越快越好", None, None),
        ("下午都行", None, "pm"),
        ("明天吧", (date(2026, 11, 21),), None),
        ("明天晚點", (date(2026, 11, 21),), "pm"),  # traditional characters
    ],
)
def test_time_words(text: str, days: tuple[date, ...] | None, half: str | None) -> None:
    assert parse_when(text, FRIDAY) == When(days=days, half=half)


def test_a_slot_button() -> None:
    when = parse_when("2026-11-21T13:30", FRIDAY)
    assert when == When(days=(date(2026, 11, 21),), exact_start="13:30")
    assert when.accepts(date(2026, 11, 21), "13:30")
    assert not when.accepts(date(2026, 11, 21), "15:30")


@pytest.mark.parametrize("text", ["随便", "哈哈", "", "2月30号", "13月1号"])
def test_no_time(text: str) -> None:
    assert parse_when(text, FRIDAY) is None
