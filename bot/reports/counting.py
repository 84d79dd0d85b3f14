"""What every rollup source shares: the key of a daily counter and what a source is given."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from bot.clock import Clock
from bot.settings import Settings

Key = tuple[date, str, str, str, str, str]
"""(day, metric, model_code, station_code, channel, key); "" where a dimension does not apply"""
Counts = Counter[Key]


@dataclass(frozen=True)
class Context:
    """The clock (days are civil days of the service's time zone) and the settings (the
    on-site response promised by city tier)."""

    clock: Clock
    settings: Settings


def day_of(clock: Clock, at: datetime) -> date:
    """The civil day of a stored (naive UTC) moment."""
    return clock.from_db(at).date()
