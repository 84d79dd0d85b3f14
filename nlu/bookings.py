"""After the ask for a person: a repair asked for among several facts is an ask for a repair.

"印表機要送修 下週二下午三點半 成都" or "XB16 序列号… 南京的 下周三上午拿过去修" carry so many facts
(a day, a time, a city, a serial) that the classifier takes them for `inform`, the answer to a
question nobody asked, and the customer got "没太理解". Words that ask for a repair (送修, 上门,
派个师傅, 拿过去修, 想预约维修) turn such a guess into `book_repair`: the booking form starts, or
goes on, and takes the facts from the same message. Only `inform`, `book_repair` itself (too
unsure to pass the fallback) or a guess with `book_repair` next to it is replaced: a question
about repairs ("保修期内维修收费吗") keeps its own intent.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from nlu.forcing import ForcedIntent

ASKS_FOR_A_REPAIR = re.compile(
    r"送修|寄修|上[门門]|派.{0,3}(?:师傅|師傅|工程师|工程師|人)"
    r"|拿(?:过|過)?去修|送(?:过|過)?去修|(?:要|想|能|可以|帮我|幫我|给我|給我)(?:预约|預約|约|約|安排)?(?:维修|維修|修理|修)"
    r"|预约|預約"
)
# "不用上门了", "上门不用来了", "取消预约": the words, but not wanted.
NOT_BEFORE = re.compile(r"(?:不用|不要|不需要|别|別|取消)(?:再)?$")
NOT_AFTER = re.compile(r"^.{0,2}(?:不用|不要|不需要|取消|别|別|就?算了)")


def asks_for_a_repair(text: str) -> bool:
    return any(
        not NOT_BEFORE.search(text[: m.start()]) and not NOT_AFTER.search(text[m.end() :])
        for m in ASKS_FOR_A_REPAIR.finditer(text)
    )


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class BookingAsk(ForcedIntent):
    intent = "book_repair"
    # Bare facts, or the classifier's own guess (made sure: the fallback would ask again).
    replaces = frozenset({"inform", "book_repair"})

    def may_replace(self, guess: str | None, ranking: list[dict[str, Any]]) -> bool:
        runner_up = ranking[1].get(INTENT_NAME_KEY) if len(ranking) > 1 else None
        return super().may_replace(guess, ranking) or runner_up == self.intent

    @staticmethod
    def matches(text: str) -> bool:
        return asks_for_a_repair(text)

    @staticmethod
    def gives_way(text: str) -> bool:
        return False
