"""A pipeline step before the tokenizer: full-width to half-width, traditional to simplified.

Customers write 印表機 and ＳＮ：ＰＦ２Ｋ７Ｑ９Ａ as often as 打印机 and SN:PF2K7Q9A. Rewriting
the text once, before anything else reads it, lets the tokenizer, the regexes and the
classifier see one form. The rewrite keeps every character at its position, so entity
offsets in training data and in predictions stay valid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.normalize import normalize_aligned


def rewrite_text(message: Message, rewrite: Callable[[str], str]) -> None:
    """Replace the message's text by `rewrite` of it, which keeps every character's position.

    An annotated value that is just the span's text follows the rewrite; otherwise the synonym
    mapper would learn 打印机 → 印表機. Explicit synonyms ([上门](repair_kind), mapped to on_site
    elsewhere) have other values and stay as they are.
    """
    text = message.get(TEXT)
    if not isinstance(text, str) or not text:
        return
    rewritten = rewrite(text)
    if rewritten == text:
        return
    message.set(TEXT, rewritten)
    for entity in message.get(ENTITIES) or []:
        if "start" in entity and entity.get("value") == text[entity["start"] : entity["end"]]:
            entity["value"] = rewritten[entity["start"] : entity["end"]]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class ChineseNormalizer(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ChineseNormalizer:
        return cls()

    @staticmethod
    def _normalize(message: Message) -> None:
        rewrite_text(message, normalize_aligned)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._normalize(message)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalize(message)
        return messages
