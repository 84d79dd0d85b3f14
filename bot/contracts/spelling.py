"""Homophones and typos of what customers type: 深证 → 深圳, 保休 → 保修, 防为码 → 防伪码.

Customers type Chinese by pinyin, so most typos are a character of the same or a near sound:
a front or back nasal (zhen/zheng), a flat or curled initial (z/zh). Two texts with the same
*fuzzy* pinyin (`sound`) are taken for the same word. pypinyin gives the pinyin; the NLU and
the actions decide which words are worth correcting to (`Corrector`, `resolve_city`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from pypinyin import Style, pinyin

# The confusions of southern accents and of fuzzy-pinyin input methods, initial then final.
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_FINALS = (("eng", "en"), ("ing", "in"))
# Nicknames and one-character abbreviations customers use for the big cities.
CITY_ALIASES = {
    "沪": "上海",
    "申城": "上海",
    "魔都": "上海",
    "京": "北京",
    "帝都": "北京",
    "津": "天津",
    "渝": "重庆",
    "山城": "重庆",
    "穗": "广州",
    "羊城": "广州",
    "鹏城": "深圳",
    "蓉": "成都",
    "汉": "武汉",
    "江城": "武汉",
    "杭": "杭州",
    "宁": "南京",
    "金陵": "南京",
}


@lru_cache(maxsize=4096)
def _syllable(char: str) -> str:
    if not "\u4e00" <= char <= "\u9fff":
        return char.lower()
    return _fuzzy(pinyin(char, style=Style.NORMAL, heteronym=False)[0][0])


def _fuzzy(spoken: str) -> str:
    for curled, flat in _INITIALS:
        if spoken.startswith(curled):
            spoken = flat + spoken[len(curled) :]
            break
    for back, front in _FINALS:
        if spoken.endswith(back):
            return spoken[: -len(back)] + front
    return spoken


def sound(text: str) -> tuple[str, ...]:
    """The fuzzy pinyin of each character (other characters as they are, lower case)."""
    return tuple(_syllable(c) for c in text)


def word_sound(word: str) -> tuple[str, ...]:
    """The fuzzy pinyin of a whole word, read as a word (重庆 is chong qing, not zhong qing)."""
    if not all("\u4e00" <= c <= "\u9fff" for c in word):
        return sound(word)
    return tuple(_fuzzy(p[0]) for p in pinyin(word, style=Style.NORMAL, heteronym=False))


class Corrector:
    """Rewrites windows of a text that sound like one of `words` into that word.

    The rewrite keeps the length (a window is replaced by a word of its own length), so entity
    offsets stay valid. A window that is itself a common word (`common`, e.g. 伤害 for 上海)
    or one of `keep` (报修 is no typo of 保修) is left alone.
    """

    def __init__(
        self,
        words: Iterable[str],
        common: Mapping[str, int] | None = None,
        keep: Iterable[str] = (),
        min_common: int = 30,
    ) -> None:
        self._by_sound: dict[tuple[str, ...], str] = {}
        for word in words:
            if len(word) >= 2:
                self._by_sound.setdefault(word_sound(word), word)
        self._lengths = sorted({len(k) for k in self._by_sound}, reverse=True)
        self._words = {w for w in self._by_sound.values()}
        self._common = common or {}
        self._keep = set(keep)
        self._min_common = min_common

    def _leave(self, window: str) -> bool:
        return (
            window in self._words
            or window in self._keep
            or self._common.get(window, 0) >= self._min_common
        )

    def correct(self, text: str) -> str:
        if not self._by_sound or not any("\u4e00" <= c <= "\u9fff" for c in text):
            return text
        sounds = sound(text)
        out = list(text)
        i = 0
        while i < len(text):
            for n in self._lengths:
                window = text[i : i + n]
                word = self._by_sound.get(sounds[i : i + n]) if len(window) == n else None
                if word is not None and not self._leave(window):
                    out[i : i + n] = word
                    i += n - 1
                    break
                if word is not None:
                    # The right word already (or a real word): do not correct inside it.
                    i += n - 1
                    break
            i += 1
        return "".join(out)


def resolve_city(raw: str, known: Iterable[str]) -> str | None:
    """The city of `known` the customer means: 上海市, 沪, 深证 (a typo of 深圳); None if none.

    An exact name first, then a nickname, then one city of the same fuzzy pinyin.
    """
    cities = list(dict.fromkeys(known))
    said = raw.strip().removesuffix("市").removesuffix("地区")
    if said in cities:
        return said
    alias = CITY_ALIASES.get(said)
    if alias in cities:
        return alias
    heard = sound(said)
    same = [c for c in cities if heard in (sound(c), word_sound(c))]
    return same[0] if len(same) == 1 else None


# What a customer says around a city: "我在沪", "人在深证呢", "上海市的".
_FILLERS = ("我在", "人在", "在", "我是", "的", "呢", "吧", "啊", "哦", "这边", "那边")


def find_city(text: str, known: Iterable[str]) -> str | None:
    """The city of `known` named somewhere in `text`: by name, nickname, or its sound."""
    cities = list(dict.fromkeys(known))
    named = [c for c in cities if c in text]
    if named:
        return max(named, key=len)
    bare = text.strip(" ，。！？,.!?")
    for filler in _FILLERS:
        bare = bare.replace(filler, "")
    if bare and (found := resolve_city(bare, cities)):
        return found
    for alias, city in CITY_ALIASES.items():
        if len(alias) >= 2 and alias in text and city in cities:
            return city
    by_sound = {word_sound(c): c for c in cities}
    heard = sound(text)
    for n in sorted({len(k) for k in by_sound}, reverse=True):
        for i in range(len(text) - n + 1):
            if (heard_city := by_sound.get(heard[i : i + n])) is not None:
                return heard_city
    return None
