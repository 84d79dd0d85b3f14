"""After the hazard check: a customer who asks for a person in so many words gets one.

"打印机出纸有黑条，转人工" reads to the classifier as a printing fault, and the customer would be
walked through troubleshooting steps they just declined. An explicit ask (转人工, 人工客服, 找真人,
in either script) forces `request_human`, unless it is denied ("不用转人工"). A hazard comes first:
its instruction is given and a person is offered with it.
"""

from __future__ import annotations

import re

from rasa.engine.recipes.default_recipe import DefaultV1Recipe

from bot.contracts.safety import hazard
from nlu.forcing import ForcedIntent

ASK = re.compile(r"[转轉找要接](?:人工|真人)|人工(?:客服|服务|服務|坐席)|真人客服")
DENIED = re.compile(r"(?:不|别|別|无需|無需)$|(?:不用|不要|不需要)$")


def asks_for_a_person(text: str) -> bool:
    return any(not DENIED.search(text[: m.start()]) for m in ASK.finditer(text))


def declines_a_person(text: str) -> bool:
    return any(DENIED.search(text[: m.start()]) for m in ASK.finditer(text))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class PersonAsk(ForcedIntent):
    intent = "request_human"

    @staticmethod
    def matches(text: str) -> bool:
        return asks_for_a_person(text) and hazard(text) is None

    @staticmethod
    def gives_way(text: str) -> bool:
        return declines_a_person(text) and not asks_for_a_person(text)
