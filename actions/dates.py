"""Reading the times customers give for a repair: 明天下午, 下周一上午, 周六, 11月25号, 尽快,
and clock times: 下午三点半, 15:30, 三点以后, 10点前.

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
    # Days in the past are read as such, so that no slot matches them (nothing is booked
    # on a day the customer did not mean; the booking says no slot fits instead).
    "大前天": -3,
    "前天": -2,
    "昨天": -1,
    "昨日": -1,
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
_CLOCK_DIGITAL = re.compile(r"(?<!\d)(\d{1,2})\s*[:：]\s*(\d{2})(?!\d)")
# "三点半", "3点", "十点一刻"; not "快一点", "早点", "一点点".
_CLOCK_WORDS = re.compile(
    r"(?<![快早晚慢好多少差有])(\d{1,2}|[零一二两三四五六七八九十]{1,3})\s*[点时](?!点)"
    r"(半|一刻|三刻|(\d{1,2})分?|([零一二三四五六七八九十]{1,3})分)?"
)
_AFTER = re.compile(r"^\s*(以后|之后|以後|之後|往后|过后|后|後)")
_BEFORE = re.compile(r"^\s*(以前|之前|前)")
_EVENING = ("下午", "晚上", "傍晚", "今晚")
# A slot starting this close to the time asked for is "that time" (slots start on the half
# hour or the hour; 九点半 finds the 09:00 slot, 三点 the 15:30 one).
_EARLIER_MINUTES = 30
_LATER_MINUTES = 60


@dataclass(frozen=True)
class When:
    """Which days (None: any day) and which half of the day (None: either)."""

    days: tuple[date, ...] | None
    half: str | None = None  # "am" or "pm"
    exact_start: str | None = None  # a slot start such as "09:00", from a button
    at: str | None = None  # "15:30" asked for: a slot starting then or within the hour
    earliest: str | None = None  # "三点以后": slots starting then or later
    latest: str | None = None  # "十点前": slots starting before then

    def in_the_past(self, today: date) -> bool:
        return bool(self.days) and all(day < today for day in self.days or ())

    def accepts(self, day: date, start: str) -> bool:
        if self.days is not None and day not in self.days:
            return False
        if self.exact_start is not None:
            return start == self.exact_start
        if self.at is not None:
            return _plus(self.at, -_EARLIER_MINUTES) <= start <= _plus(self.at, _LATER_MINUTES)
        if self.earliest is not None:
            return start >= self.earliest
        if self.latest is not None:
            return start < self.latest
        if self.half == "am":
            return start < "12:00"
        if self.half == "pm":
            return start >= "12:00"
        return True


def _plus(hhmm: str, minutes: int) -> str:
    total = min(max(int(hhmm[:2]) * 60 + int(hhmm[3:]) + minutes, 0), 23 * 60 + 59)
    return f"{total // 60:02d}:{total % 60:02d}"


def _clock(text: str) -> tuple[str, str] | None:
    """A clock time and how it is meant ("at", "earliest" or "latest"), if the text has one."""
    found = _CLOCK_DIGITAL.search(text)
    if found:
        hour, minute = int(found.group(1)), int(found.group(2))
    else:
        found = _CLOCK_WORDS.search(text)
        if not found:
            return None
        number = _number(found.group(1))
        if number is None:
            return None
        hour = number
        part = found.group(2) or ""
        words = found.group(3) or found.group(4)
        named = {"半": 30, "一刻": 15, "三刻": 45}.get(part)
        minute = named if named is not None else (_number(words) or 0) if words else 0
    if hour > 23 or minute > 59:
        return None
    # Nobody books a repair at 3 in the night: 1-6 o'clock without 上午 is the afternoon.
    if hour < 12 and (any(w in text for w in _EVENING) or (1 <= hour <= 6 and "上午" not in text)):
        hour += 12
    rest = text[found.end() :]
    how = "earliest" if _AFTER.search(rest) else "latest" if _BEFORE.search(rest) else "at"
    return f"{hour:02d}:{minute:02d}", how


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
    clock = _clock(text)
    if days is None and half is None and clock is None and not any(w in text for w in _SOON):
        return None
    if clock is None:
        return When(days=days, half=half)
    hhmm, how = clock
    return When(days=days, half=half, **{how: hhmm})
