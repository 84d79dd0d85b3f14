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


@pytest.mark.parametrize(
    ("text", "day", "accepted", "refused"),
    [
        # Clock times, in words and digits, 繁體 included; 1-6 o'clock is the afternoon.
        ("明天下午三點半", date(2026, 11, 21), "15:30", "13:30"),
        ("明天15:30", date(2026, 11, 21), "15:30", "09:00"),
        ("明天两点", date(2026, 11, 21), "14:00", "09:00"),
        ("周六早上九点半", date(2026, 11, 21), "09:00", "13:30"),
        ("明天三点半以后", date(2026, 11, 21), "16:00", "13:30"),
        ("明天10点前", date(2026, 11, 21), "09:00", "10:30"),
    ],
)
def test_clock_times(text: str, day: date, accepted: str, refused: str) -> None:
    when = parse_when(text, FRIDAY)
    assert when is not None
    assert when.accepts(day, accepted)
    assert not when.accepts(day, refused)


@pytest.mark.parametrize("text", ["快一点", "早点来", "一点点问题"])
def test_words_with_dian_are_not_clock_times(text: str) -> None:
    when = parse_when(text, FRIDAY)
    assert when is None or (when.at is None and when.earliest is None)


def test_a_day_in_the_past_is_known_as_such() -> None:
    when = parse_when("昨天上午", FRIDAY)
    assert when is not None and when.in_the_past(FRIDAY)
    assert not parse_when("明天上午", FRIDAY).in_the_past(FRIDAY)  # type: ignore[union-attr]
