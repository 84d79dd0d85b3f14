"""ID-shaped values: serial numbers, security codes, work-order and case ids.

Customers type these with spaces, dashes, lower case, full-width digits and prefixes such as
``SN:``; everything here accepts those forms and returns one canonical string, or None.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

SERIAL_RE = re.compile(r"[A-Z]{2}[A-Z0-9]{6,10}")
SERIAL_SHAPE = "a serial number: two letters then 6-10 letters or digits"


_SERIAL_PREFIX = re.compile(r"^(?:S\s*/?\s*N|序列号|序号|机身号|SN码)\s*[:：#]?\s*", re.IGNORECASE)


SECURITY_CODE_RE = re.compile(r"\d{16}")


# Prefixes of the daily ids the backend hands out.
WORK_ORDER_PREFIX = "WO"


COMPLAINT_PREFIX = "CP"


HANDOFF_PREFIX = "HO"


COUNTERFEIT_PREFIX = "CF"


EXTENSION_PREFIX = "EW"


def _ascii(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip()


def normalize_serial(raw: str) -> str | None:
    text = _SERIAL_PREFIX.sub("", _ascii(raw)).upper()
    text = re.sub(r"[\s\-]", "", text)
    return text if SERIAL_RE.fullmatch(text) else None


def normalize_security_code(raw: str) -> str | None:
    text = re.sub(r"[\s\-_.]", "", _ascii(raw))
    return text if SECURITY_CODE_RE.fullmatch(text) else None


def normalize_daily_id(raw: str, prefix: str) -> str | None:
    """PREFIX + yyyymmdd + "-" + 4 digits, with a real date; the dash may be left out."""
    text = re.sub(r"\s", "", _ascii(raw)).upper()
    match = re.fullmatch(rf"{prefix}(\d{{8}})[-_]?(\d{{4}})", text)
    if not match:
        return None
    try:
        datetime.strptime(match.group(1), "%Y%m%d")
    except ValueError:
        return None
    return f"{prefix}{match.group(1)}-{match.group(2)}"


def normalize_work_order_id(raw: str) -> str | None:
    """A work order's id; its date and number alone ("20261120-0028", as a customer copies
    them from an SMS) name one too."""
    bare = re.fullmatch(r"\s*(20\d{6})\s*-\s*(\d{4})\s*", _ascii(raw))
    if bare:
        raw = f"{WORK_ORDER_PREFIX}{bare.group(1)}-{bare.group(2)}"
    return normalize_daily_id(raw, WORK_ORDER_PREFIX)


def format_id(prefix: str, day: date, number: int) -> str:
    return f"{prefix}{day:%Y%m%d}-{number:04d}"
