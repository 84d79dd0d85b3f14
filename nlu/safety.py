"""After the classifier: a message that reports a hazard is `report_hazard`, whatever it guessed.

The classifier learns report_hazard from examples like any intent, but a safety case must not
depend on how close a new sentence is to them: the word list of `bot.contracts.safety` has the
last word both ways. A hazard word forces the intent (confidence 1); the intent without a
hazard word (the classifier's guess on "没进水啊") gives way to the next intent of the ranking.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.contracts.safety import hazard

INTENT_NAME = "report_hazard"
CONFIDENCE = "confidence"
OTHERS_SCALE = 0.5


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class HazardCheck(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> HazardCheck:
        return cls()

    # What a subclass forces, and on which words (nlu/handoffs.py: an explicit ask for a person).
    intent = INTENT_NAME

    @staticmethod
    def matches(text: str) -> bool:
        return hazard(text) is not None

    @staticmethod
    def gives_way(text: str) -> bool:
        """The classifier guessed the intent, but the words say otherwise."""
        return not hazard(text)

    def _check(self, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str) or not text or text.startswith("/"):
            return
        ranking = [dict(r) for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY)]
        others = [r for r in ranking if r[INTENT_NAME_KEY] != self.intent]
        if self.matches(text):
            top = {INTENT_NAME_KEY: self.intent, CONFIDENCE: 1.0}
            # The classifier's guesses stay as a ranking, scaled down: the FallbackClassifier
            # reads two confidences within its ambiguity threshold as "not sure" and would ask
            # "您是想排查故障吗？" instead of giving the safety instruction.
            for other in others:
                other[CONFIDENCE] = float(other.get(CONFIDENCE) or 0.0) * OTHERS_SCALE
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [top, *others], add_to_output=True)
            return
        current = message.get(INTENT) or {}
        if current.get(INTENT_NAME_KEY) == self.intent and others and self.gives_way(text):
            message.set(INTENT, others[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, others, add_to_output=True)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._check(message)
        return messages
