"""Masking a customer's phone number and address wherever a message shows them.

A customer's phone and address are personal information (个人信息保护法): the bot shows them
masked, enough for the customer to recognise their own ("138****8000", "朝阳区建国门外大街**")
and too little for anyone else to call or visit. Stations' phones and addresses are public and
never pass through here.

Pure functions, shared by the actions and the backend (the audit log masks the same way).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

HIDDEN = "****"
# Where the part of an address that locates a street ends: the street itself.
_STREET = re.compile(r"大街|大道|胡同|路|街|巷|弄")
# Failing a street, the district (or county, or city) that comes first.
_DISTRICT = re.compile(r"区|县|旗|市")


# Digits as customers say them over a phone number: 一三九 幺三八 零〇.
CN_DIGITS = str.maketrans("零〇一二三四五六七八九幺", "001234567891")


def phone_digits(raw: str) -> str:
    """The digits of a phone number without its country code: `+86 138-0013-8000` -> 13800138000."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", raw))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix) :]
    return digits


def mask_phone(phone: str | None) -> str:
    """138****8000; a landline 075*****1234; a short number shows at most its last four digits.

    The first three digits (operator or area code) and the last four stay: the customer
    recognises the number, nobody can dial it. Anything that is no number comes back as stars.
    """
    digits = phone_digits(phone or "")
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) >= 7:
        return HIDDEN + digits[-4:]
    return HIDDEN


def mask_address(address: str | None) -> str:
    """The district and street only: "朝阳区建国门外大街1号国贸大厦" -> "朝阳区建国门外大街**".

    Without a street, up to the first district, county or city ("南山区**"); without either,
    the first few characters. Never the house number, building or room.
    """
    text = " ".join((address or "").split())
    if not text:
        return ""
    street = _STREET.search(text)
    district = _DISTRICT.search(text)
    if street is not None and street.end() < len(text):
        kept = text[: street.end()]
    elif district is not None and district.end() < len(text):
        kept = text[: district.end()]
    else:
        kept = text[: min(3, max(1, len(text) // 3))]
    return kept + "**"


# A mainland mobile number in free text (what a customer types: spaces, dashes, +86); landlines
# are left alone, since the ones in a transcript are the stations' public numbers.
# Full-width digits count (mask_phone reads them as digits).
_MOBILE = re.compile(
    r"(?<![0-9０-９])(?:[+＋]?[8８][6６][\s-]?)?[1１][3-9３-９][0-9０-９](?:[\s-]?[0-9０-９]){8}(?![0-9０-９])"
)
# Keys of a handoff package that hold a phone or an address (the rest is free text).
_PHONE_KEYS = frozenset({"contact", "phone", "callback_phone"})
_ADDRESS_KEYS = frozenset({"address"})


def mask_phones_in(text: str) -> str:
    """Free text with every mobile number in it masked: "打13912345678" -> "打139****5678"."""
    return _MOBILE.sub(lambda m: mask_phone(m.group(0)), text)


def mask_contact(value: str | None) -> str | None:
    """A contact field: masked as a phone when it is one, else its mobile numbers masked."""
    if not value:
        return value
    if len(phone_digits(value)) >= 7 and not re.search(r"[^\d\s+\-()]", value):
        return mask_phone(value)
    return mask_phones_in(value)


def mask_package(package: Mapping[str, object]) -> dict[str, object]:
    """A handoff package as the desk shows it: phones and addresses masked, mobile numbers in
    its free text too; names, models and serials as they are."""
    masked: dict[str, object] = {}
    for key, value in package.items():
        if isinstance(value, str):
            masked[key] = (
                mask_contact(value)
                if key in _PHONE_KEYS
                else mask_address(value)
                if key in _ADDRESS_KEYS
                else mask_phones_in(value)
            )
        elif isinstance(value, list):
            masked[key] = [mask_phones_in(v) if isinstance(v, str) else v for v in value]
        else:
            masked[key] = value
    return masked
