"""After the classifier: words that settle the intent whatever the classifier guessed.

Some messages must not depend on how close a new sentence is to the training examples: a
hazard (nlu/safety.py), an explicit ask for a person (nlu/handoffs.py), an ask for a repair
that the classifier took for bare facts (nlu/bookings.py). A subclass names the intent and its
words, and optionally which guesses of the classifier it may replace. The words force the
intent (confidence 1); where they say the opposite (a denied hazard, a declined person), the
classifier's guess of that intent gives way to the next intent of its ranking.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

CONFIDENCE = "confidence"
OTHERS_SCALE = 0.5


class ForcedIntent(GraphComponent):
    intent: str
    # Force only over these guesses of the classifier (None: over any guess).
    replaces: frozenset[str] | None = None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ForcedIntent:
        return cls()

    @staticmethod
    def matches(text: str) -> bool:
        """The words force the intent."""
        raise NotImplementedError

    @staticmethod
    def gives_way(text: str) -> bool:
        """The classifier guessed the intent, but the words say otherwise."""
        raise NotImplementedError

    def _check(self, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str) or not text or text.startswith("/"):
            return
        ranking = [dict(r) for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY)]
        others = [r for r in ranking if r[INTENT_NAME_KEY] != self.intent]
        guess = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if (self.replaces is None or guess in self.replaces) and self.matches(text):
            top = {INTENT_NAME_KEY: self.intent, CONFIDENCE: 1.0}
            # The classifier's guesses stay as a ranking, scaled down: the FallbackClassifier
            # reads two confidences within its ambiguity threshold as "not sure" and would ask
            # "您是想排查故障吗？" instead of giving the safety instruction.
            for other in others:
                other[CONFIDENCE] = float(other.get(CONFIDENCE) or 0.0) * OTHERS_SCALE
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [top, *others], add_to_output=True)
            return
        if guess == self.intent and others and self.gives_way(text):
            message.set(INTENT, others[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, others, add_to_output=True)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._check(message)
        return messages
