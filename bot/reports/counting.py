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
ALL = "*"
"""A dimension summed over (a coarser grain of the same counter)."""


@dataclass(frozen=True)
class Context:
    """The clock (days are civil days of the service's time zone) and the settings (the
    on-site response promised by city tier)."""

    clock: Clock
    settings: Settings


def day_of(clock: Clock, at: datetime) -> date:
    """The civil day of a stored (naive UTC) moment."""
    return clock.from_db(at).date()


def grain(key: Key) -> str:
    """The dimensions a counter keeps: "m", "s", "c" for model, station, channel."""
    return "".join(letter for letter, value in zip("msc", key[2:5], strict=True) if value != ALL)


def with_grains(fine: Counts) -> Counts:
    """The finest counters and every coarser grain of them: each counter summed with any of
    model, station and channel replaced by ``ALL``."""
    out: Counts = Counter()
    for (day, metric, model, station, channel, key), value in fine.items():
        for m in (model, ALL):
            for s in (station, ALL):
                for c in (channel, ALL):
                    out[(day, metric, m, s, c, key)] += value
    return out
