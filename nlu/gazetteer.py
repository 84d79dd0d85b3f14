"""Intent features from the entity values seen in training: "a known <type> appears here".

"北京财经" annotated as a TV channel says something about the intent of every later message
that mentions it; "硒鼓" annotated as a product does the same for ours. This featurizer
remembers the annotated values per entity type and marks, for each message, which types occur
in it. The features are sentence-level only: on the token level they would be a perfect
predictor of the training annotations and teach the entity extractor nothing about new values.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class EntityGazetteer(SparseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # One-character values ("台", "刘") match nearly everything: they are left out.
        return {**SparseFeaturizer.get_default_config(), "min_length": 2}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        patterns: dict[str, str] | None = None,
    ) -> None:
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self.patterns = patterns or {}
        self._compiled = {name: re.compile(p) for name, p in self.patterns.items()}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntityGazetteer:
        return cls(
            {**cls.get_default_config(), **config}, model_storage, resource, execution_context
        )

    def train(self, training_data: TrainingData) -> Resource:
        values: dict[str, set[str]] = defaultdict(set)
        for message in training_data.training_examples:
            text = message.get(TEXT) or ""
            for entity in message.get(ENTITIES) or []:
                if "start" not in entity:
                    continue  # entities named in stories, without a text span
                # The text is normalised already; read the value from it, not the annotation.
                value = text[entity["start"] : entity["end"]].strip().lower()
                if len(value) >= self._config["min_length"]:
                    values[entity["entity"]].add(value)
        # Longest first: a regex alternation takes the first alternative that matches.
        self.patterns = {
            name: "|".join(re.escape(v) for v in sorted(found, key=lambda v: (-len(v), v)))
            for name, found in sorted(values.items())
        }
        self._compiled = {name: re.compile(p) for name, p in self.patterns.items()}
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "gazetteer.json").write_text(json.dumps(self.patterns, ensure_ascii=False))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EntityGazetteer:
        try:
            with model_storage.read_from(resource) as directory:
                patterns = json.loads((directory / "gazetteer.json").read_text())
        except ValueError:
            patterns = {}
        return cls(
            {**cls.get_default_config(), **config},
            model_storage,
            resource,
            execution_context,
            patterns,
        )

    def _featurize(self, message: Message) -> None:
        text = (message.get(TEXT) or "").lower()
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        if not text or not tokens or not self._compiled:
            return
        sentence = np.array([[1.0 if p.search(text) else 0.0 for p in self._compiled.values()]])
        sequence = np.zeros((len(tokens), len(self._compiled)))
        self.add_features_to_message(
            scipy.sparse.coo_matrix(sequence), scipy.sparse.coo_matrix(sentence), TEXT, message
        )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._featurize(message)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._featurize(message)
        return messages

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to check beyond the defaults."""
