"""Corrections at the booking's summary: "时间不对", "改成送修", "电话写错了" change that field.

At "确认提交吗？" a customer who sees something wrong says what, not "no": "时间不对 要三点半以后的"
must not drop the booking (the deny mapping would), nor be answered "没看明白". The summary's
answer is read here first: a field named (with its new value when given) is changed and the
form asks for what is missing, then shows the summary again; a plain yes or no stays one.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clock, read_phone
from actions.conversation import latest_text
from actions.dates import parse_when
from actions.workorders.slots import choose_slot
from bot.normalize import normalize_text

_NOT_ON_SITE = re.compile(
    r"(不用|不要|别|不)(派人|上门|来)|自己(送|拿|带)|送(过去|去|修|店)|寄修|到店"
)
_ON_SITE = re.compile(r"上门|派人|派个|来家里|来公司")
_REMOTE = re.compile(r"远程|线上")
_TIME = re.compile(r"时间|日期|哪天|几点|改天|换个?(时间|天)")
_PHONE = re.compile(r"电话|手机|号码")
_ADDRESS = re.compile(r"地址|住址")
_DIGITS = re.compile(r"\d[\d\s-]{6,}\d")


def kind_from_words(words: str) -> str | None:
    """The kind of service the words ask for; "不用上门 我自己送" is a drop-off."""
    text = normalize_text(words)
    if _NOT_ON_SITE.search(text):
        return "drop_off"
    if _REMOTE.search(text):
        return "remote"
    if _ON_SITE.search(text):
        return "on_site"
    return None


async def correction(tracker: Tracker, dispatcher: CollectingDispatcher) -> dict[str, Any] | None:
    """The slots a correction at the summary changes, None when the answer is no correction."""
    words = latest_text(tracker)
    if not words or words.startswith("/"):
        return None
    text = normalize_text(words)
    again: dict[str, Any] = {"booking_confirmed": None}
    kind = kind_from_words(text)
    if kind is not None and kind != tracker.get_slot("repair_kind"):
        # Another kind of service may need another station, and so another slot.
        return {**again, "repair_kind": kind, "station_code": None, "booking_slot": None}
    if _PHONE.search(text):
        digits = _DIGITS.search(text)
        return {**again, **(read_phone(digits.group(0), dispatcher) if digits else {"phone": None})}
    if _ADDRESS.search(text):
        return {**again, "address": None}
    wanted = parse_when(text, clock().today())
    if wanted is not None and (wanted.days or wanted.half or wanted.at or wanted.earliest):
        chosen = await choose_slot(text, tracker.get_slot("station_code"), dispatcher, tracker)
        return {**again, **chosen}
    if _TIME.search(text):
        return {**again, "booking_slot": None}
    return None
