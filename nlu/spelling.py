"""A pipeline step after the normalizer: homophones and typos of key words (深证 → 深圳).

Customers type by pinyin and hit a character of the same sound: 保休, 维秀, 防为码, 深证. A word
list of every typo would never end, so `bot.contracts.spelling.Corrector` compares
sounds instead. The words corrected to are the config's `words`: the trade's key words
and the cities with service stations. Not the whole city lookup table: hundreds of two-
character names sound like everyday words (一星 → 宜兴, 服务中心 → 服吴忠心), measured on the
training data and the NLU tests. A window that is a common word of jieba's dictionary
(伤害 is no typo of 上海) or one of `keep` (报修 is a word of its own) is left alone. The
rewrite keeps the text's length, so entity offsets stay valid.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import jieba
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.contracts.spelling import Corrector
from nlu.normalizer import rewrite_text


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class SpellingCorrector(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"words": [], "keep": [], "min_common": 30}

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = {**self.get_default_config(), **config}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpellingCorrector:
        return cls(config)

    @cached_property
    def _corrector(self) -> Corrector:
        # Built on first use: jieba's dictionary is file I/O, not for loading time.
        jieba.initialize()
        return Corrector(
            self._config["words"],
            common=jieba.dt.FREQ,
            keep=self._config["keep"],
            min_common=int(self._config["min_common"]),
        )

    def _correct(self, message: Message) -> None:
        rewrite_text(message, self._corrector.correct)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._correct(message)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._correct(message)
        return messages
