"""After the classifier: a message that reports a hazard is `report_hazard`, whatever it guessed.

The classifier learns report_hazard from examples like any intent, but a safety case must not
depend on how close a new sentence is to them: the word list of `bot.contracts.safety` has the
last word both ways. A hazard word forces the intent (confidence 1); the intent without a
hazard word (the classifier's guess on "没进水啊") gives way to the next intent of the ranking.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe

from bot.contracts.safety import hazard
from nlu.forcing import ForcedIntent


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class HazardCheck(ForcedIntent):
    intent = "report_hazard"

    @staticmethod
    def matches(text: str) -> bool:
        return hazard(text) is not None

    @staticmethod
    def gives_way(text: str) -> bool:
        return hazard(text) is None
