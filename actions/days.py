"""Saying a date to a customer: "明天 11月21日 周六", never a bare "2026-11-21".

Every date the bot states (a slot, the last day of a remedy, an extension's term, a release)
goes through `day_text`, so the customer always gets the weekday, and 今天/明天 when the date
is that close. The words are domain labels (`utter_label_date*`, `utter_label_weekday_<n>`);
"today" is the backend's clock (`actions.common.clock`), so a frozen test clock freezes it too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from rasa_sdk.types import DomainDict

from actions.common import clock, label


def as_date(value: Any) -> date | None:
    """A date from a date, a datetime or an ISO string ("2026-11-21"); None for anything else."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def day_key(day: date, today: date) -> str:
    """Which label says the date: today and tomorrow by name, another year with its year."""
    offset = (day - today).days
    if offset == 0:
        return "date_today"
    if offset == 1:
        return "date_tomorrow"
    if day.year != today.year:
        return "date_other_year"
    return "date"


def day_text(domain: DomainDict, value: Any, today: date | None = None) -> str:
    """The date as the customer reads it; a value that is no date is said as it is."""
    day = as_date(value)
    if day is None:
        return str(value or "")
    return label(
        domain,
        day_key(day, today or clock().today()),
        year=day.year,
        month=day.month,
        day=day.day,
        weekday=label(domain, f"weekday_{day.weekday()}"),
    )
