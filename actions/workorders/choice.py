"""Choosing a station in words: "浦东那个", "第二个", "离我近的那个", "徐汇店".

The station question offers buttons, but customers often type instead. The words are read
against the stations offered, in the order they were offered: an ordinal, a district or a
fragment of the name, or "nearest" (which needs to know where the customer is).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.contracts.stations import Station
from bot.normalize import normalize_text

_CN_ORDINALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_ORDINAL = re.compile(r"第\s*([一二两三四五六]|\d)\s*[个家间号]?|([一二三四五六]|\d)\s*号")
_LAST = re.compile(r"最后(一|那)?[个家]")
_NEAREST = re.compile(r"(离我|距离)?最?近(一点)?的|附近的|就近")
# What a district or station name is called besides its core ("浦东新区" → "浦东").
_SUFFIXES = ("新区", "区", "县", "市")
_NAME_NOISE = re.compile(r"星辰|科技|授权|服务|维修|中心|站|店|售后|[()（）]")


@dataclass(frozen=True)
class Choice:
    """The station chosen, or why none: "nearest" (we do not know where the customer is)."""

    station: Station | None = None
    nearest: bool = False


def _cores(station: Station) -> list[str]:
    district = station.district
    cores = [district]
    for suffix in _SUFFIXES:
        if district.endswith(suffix) and len(district) - len(suffix) >= 2:
            cores.append(district[: -len(suffix)])
            break
    name = _NAME_NOISE.sub("", station.name.replace(station.city, ""))
    if len(name) >= 2:
        cores.append(name)
    return [c for c in cores if len(c) >= 2]


def choose_station(words: str, offered: Sequence[Station]) -> Choice:
    """The station of `offered` the words name; an empty Choice when they name none."""
    text = normalize_text(words)
    if not offered or not text:
        return Choice()
    if match := _ORDINAL.search(text):
        raw = match.group(1) or match.group(2)
        index = int(raw) if raw.isdigit() else _CN_ORDINALS[raw]
        return Choice(offered[index - 1]) if 1 <= index <= len(offered) else Choice()
    if _LAST.search(text):
        return Choice(offered[-1])
    named = [s for s in offered if any(core in text for core in _cores(s))]
    if len(named) == 1:
        return Choice(named[0])
    if len(named) > 1:
        # "浦东那个" when two are in 浦东: the one whose name is also said, else none.
        by_name = [s for s in named if _cores(s)[-1] in text]
        return Choice(by_name[0]) if len(by_name) == 1 else Choice()
    if _NEAREST.search(text):
        return Choice(nearest=True)
    return Choice()
