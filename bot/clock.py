"""Time for the service: civil dates in the service's zone, naive UTC in the database."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


class Clock:
    """Wall-clock time; tests pass a fixed `now` to make dates reproducible."""

    def __init__(self, tz: ZoneInfo, fixed: datetime | None = None) -> None:
        self.tz = tz
        self._fixed = fixed

    def now(self) -> datetime:
        if self._fixed is not None:
            return self._fixed.astimezone(self.tz)
        return datetime.now(self.tz)

    def today(self) -> date:
        return self.now().date()

    @staticmethod
    def to_db(moment: datetime) -> datetime:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)

    def from_db(self, stored: datetime) -> datetime:
        return stored.replace(tzinfo=timezone.utc).astimezone(self.tz)

    def local(self, day: date, hhmm: str) -> datetime:
        hour, minute = (int(part) for part in hhmm.split(":"))
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)
