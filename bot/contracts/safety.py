"""Hazards the assistant must never troubleshoot: swelling, smoke, burning, sparks, liquid, heat.

A statistical classifier can miss "后盖都翘起来了" or read "冒烟" as a paper jam; a missed
hazard means troubleshooting steps for a battery that may catch fire. So the check is a plain
list of words that is read by the NLU pipeline (it forces the intent `report_hazard`, whatever
the classifier says) and again by the action that answers (which instruction to give). A
negation just before the word ("没进水", "不烫", "没有冒烟") is not a hazard.

Texts are expected normalised (simplified characters, half-width), as the NLU pipeline and
`bot.normalize.normalize_text` make them; traditional forms are listed anyway for callers
that do not normalise.
"""

from __future__ import annotations

import re
from typing import Literal

Hazard = Literal["swelling", "smoke", "burning", "sparks", "liquid", "overheat"]

# The order is the order of urgency: a message with smoke and heat gets the smoke instruction.
_PATTERNS: tuple[tuple[Hazard, str], ...] = (
    ("smoke", r"冒(白|黑|青)?烟|冒煙|在?冒着?烟|起火|着火|著火|起明火|火苗|燃烧|燒起來|烧起来"),
    ("sparks", r"火花|冒火|打火|电火花|電火花|噼啪|啪的?一声|漏电|漏電|电到手|电了我|麻手"),
    (
        "burning",
        r"焦味|烧焦|燒焦|焦糊|糊味|烧糊|燒糊|烧坏的?味|塑料味|胶皮味|烧.{0,2}味|burning smell",
    ),
    (
        "swelling",
        r"鼓包|鼓起|鼓了|爆炸|有点鼓|发鼓|膨胀|膨脹|胀起|脹起|(电池|電池|后盖|後蓋|底壳|外壳|触控板|键盘)"
        r".{0,8}(鼓|凸|翘|顶起|頂起|撑开|撐開|变形|變形)|顶起来|頂起來|撑起来|拱起来|凸起来"
        r"|swollen|swelling|bulg",
    ),
    (
        "liquid",
        r"进水|進水|泡水|泼|潑|洒|灑|打翻|浸湿|浸濕|淋湿|淋濕|淋雨|掉水里|掉进水|"
        r"溅|濺|(水|咖啡|茶|奶|可乐|饮料|果汁|啤酒|酒|汤|液体).{0,4}(洒|倒|泼|翻|进去|流进)|spill",
    ),
    (
        "overheat",
        r"烫手|烫得|燙得|燙手|好烫|很烫|特别烫|太烫|巨烫|发烫|發燙|滚烫|烫死|烫伤|过热|過熱|"
        r"热得(不行|受不了|烫)|摸不了|烫到|overheat",
    ),
)
_COMPILED = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in _PATTERNS)
# "没进水", "不烫", "没有冒烟", "并没有漏电", "也没鼓包": a denial right before the word.
_NEGATION = re.compile(
    r"(没有|沒有|没|沒|不是|不会|不會|并不|並不|不|未|无|無|别|別)(再|有|都|也)?$"
)
# Spilt ink or toner is a consumable case (KB053, KB055), not liquid in the electronics.
_NOT_LIQUID = re.compile(r"(墨|粉)")
# A question about a hazard ("会不会爆炸", "会起火吗") is urgent enough to answer with the
# instruction; only a plain denial is not a hazard.


def hazard(text: str) -> Hazard | None:
    """The most urgent hazard the text reports, None when it reports none (or denies it)."""
    for kind, pattern in _COMPILED:
        for match in pattern.finditer(text):
            before = text[max(0, match.start() - 4) : match.start()]
            if _NEGATION.search(before):
                continue
            if kind == "liquid" and _NOT_LIQUID.search(
                text[max(0, match.start() - 3) : match.end()]
            ):
                continue
            return kind
    return None
