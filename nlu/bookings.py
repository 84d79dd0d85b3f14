"""After the ask for a person: a repair asked for among several facts is an ask for a repair.

"印表機要送修 下週二下午三點半 成都" or "XB16 序列号… 南京的 下周三上午拿过去修" carry so many facts
(a day, a time, a city, a serial) that the classifier takes them for `inform`, the answer to a
question nobody asked, and the customer got "没太理解". Words that ask for a repair (送修, 上门,
派个师傅, 拿过去修, 想预约维修) turn such a guess into `book_repair`: the booking form starts, or
goes on, and takes the facts from the same message. Only `inform` and `book_repair` itself
(too unsure to pass the fallback) are replaced: a question about repairs ("保修期内维修收费吗")
or a change of a booking ("我想改一下预约时间") keeps its own intent, and so does a message
about an existing booking that the classifier took for facts ("预约的时间改到下周一").
"""

from __future__ import annotations

import re

from rasa.engine.recipes.default_recipe import DefaultV1Recipe

from nlu.forcing import ForcedIntent

ASKS_FOR_A_REPAIR = re.compile(
    r"送修|寄修|上[门門]|派.{0,3}(?:师傅|師傅|工程师|工程師|人)"
    r"|拿(?:过|過)?去修|送(?:过|過)?去修|(?:要|想|能|可以|帮我|幫我|给我|給我)(?:预约|預約|约|約|安排)?(?:维修|維修|修理|修)"
    r"|预约|預約"
)
# "不用上门了", "上门不用来了", "取消预约": the words, but not wanted.
NOT_BEFORE = re.compile(r"(?:不用|不要|不需要|别|別|取消)(?:再)?$")
NOT_AFTER = re.compile(r"^.{0,2}(?:不用|不要|不需要|取消|别|別|就?算了)")


# What else a message must say, beyond the words that ask, to be more than the answer to the
# booking form's own question ("送修" when asked 上门还是送修 is the answer, not a new ask).
FACT_CHARS = 4


# A booking that exists already: changed, cancelled, looked up.
EXISTING = re.compile(r"改|换|換|挪|推迟|推遲|提前|取消|进度|進度|状态|狀態|查")


def carries_facts(text: str) -> bool:
    rest = ASKS_FOR_A_REPAIR.sub("", text)
    return len(re.findall(r"[\w]", rest)) >= FACT_CHARS


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

    @staticmethod
    def matches(text: str) -> bool:
        return asks_for_a_repair(text) and carries_facts(text) and not EXISTING.search(text)

    @staticmethod
    def gives_way(text: str) -> bool:
        return False
