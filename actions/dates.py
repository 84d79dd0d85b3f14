"""Reading the times customers give for a repair: 明天下午, 下周一上午, 周六, 11月25号, 尽快.

The result is a preference (which days, morning or afternoon), not a slot: the booking
action matches it against the station's free slots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.normalize import normalize_text

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_WEEKDAY = {
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "七": 6,
    "1": 0,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
    "6": 5,
    "7": 6,
}
_RELATIVE = {
    "大后天": 3,
    "后天": 2,
    "明天": 1,
    "明日": 1,
    "明早": 1,
    "今天": 0,
    "今日": 0,
    "今晚": 0,
}
_MORNING = ("上午", "早上", "早晨", "明早", "上半天", "早点")
_AFTERNOON = ("下午", "中午", "午后", "傍晚", "晚上", "今晚", "下半天", "晚点")
_SOON = ("尽快", "越快越好", "最早", "马上", "随时", "都行", "都可以", "什么时候都")
_SLOT = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})")


@dataclass(frozen=True)
class When:
    """Which days (None: any day) and which half of the day (None: either)."""

    days: tuple[date, ...] | None
    half: str | None = None  # "am" or "pm"
    exact_start: str | None = None  # a slot start such as "09:00", from a button

    def accepts(self, day: date, start: str) -> bool:
        if self.days is not None and day not in self.days:
            return False
        if self.exact_start is not None:
            return start == self.exact_start
        if self.half == "am":
            return start < "12:00"
        if self.half == "pm":
            return start >= "12:00"
        return True


def _number(text: str) -> int | None:
    """1-31 in Arabic or Chinese numerals (十一, 二十五, 三十一)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        value = (_DIGITS.get(tens, 0) if tens else 1) * 10 + (_DIGITS.get(ones, 0) if ones else 0)
        return value if all(c in _DIGITS for c in tens + ones) else None
    if len(text) == 1 and text in _DIGITS:
        return _DIGITS[text]
    return None


def _next_weekday(today: date, weekday: int, weeks_ahead: int) -> date:
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=weeks_ahead)
    day = monday + timedelta(days=weekday)
    if weeks_ahead == 0 and day < today:
        day += timedelta(weeks=1)
    return day


def _days(text: str, today: date) -> tuple[date, ...] | None:
    for word, offset in _RELATIVE.items():
        if word in text:
            return (today + timedelta(days=offset),)
    match = re.search(r"(下下|下个?|这个?|本)?(?:周|星期|礼拜)([一二三四五六日天七1-7])", text)
    if match:
        prefix = match.group(1) or ""
        weeks = 2 if prefix == "下下" else 1 if prefix.startswith("下") else 0
        return (_next_weekday(today, _WEEKDAY[match.group(2)], weeks),)
    match = re.search(r"(下个?|这个?|本)?(?:周末|礼拜天)", text)
    if match:
        weeks = 1 if (match.group(1) or "").startswith("下") else 0
        saturday = _next_weekday(today, 5, weeks)
        return tuple(d for d in (saturday, saturday + timedelta(days=1)) if d >= today)
    match = re.search(
        r"(?:(\d{1,2}|[一二三四五六七八九十]{1,3})月)?(\d{1,2}|[一二三四五六七八九十]{1,3})[日号]",
        text,
    )
    if match:
        day = _number(match.group(2))
        month = _number(match.group(1)) if match.group(1) else today.month
        if day is None or month is None:
            return None
        try:
            candidate = date(today.year, month, day)
        except ValueError:
            return None
        if candidate < today:
            try:
                candidate = (
                    date(today.year + 1, month, day)
                    if match.group(1)
                    else date(today.year + (today.month == 12), today.month % 12 + 1, day)
                )
            except ValueError:
                return None
        return (candidate,)
    match = re.search(r"(\d{1,2})[/.-](\d{1,2})", text)
    if match:
        try:
            candidate = date(today.year, int(match.group(1)), int(match.group(2)))
        except ValueError:
            return None
        return (candidate if candidate >= today else candidate.replace(year=today.year + 1),)
    return None


def parse_when(raw: str, today: date) -> When | None:
    """A time preference from a customer's words, or None when it names no time at all."""
    slot = _SLOT.search(raw)
    if slot:
        day = datetime.strptime(slot.group(1), "%Y-%m-%d").date()
        return When(days=(day,), exact_start=slot.group(2))
    text = normalize_text(raw)
    half = (
        "am"
        if any(w in text for w in _MORNING)
        else "pm"
        if any(w in text for w in _AFTERNOON)
        else None
    )
    days = _days(text, today)
    if days is None and half is None and not any(w in text for w in _SOON):
        return None
    return When(days=days, half=half)
