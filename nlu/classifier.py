"""Logistic-regression intent classifier with a tunable regularisation and binary features.

Rasa's LogisticRegressionClassifier fixes C at 1, which underfits the large sparse n-gram
vectors of Chinese text; presence (1/0) rather than counts of n-grams also classifies better
(measured with `make bench-nlu`). Training takes seconds on two cores, against minutes for DIET.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix, hstack, vstack


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **LogisticRegressionClassifier.get_default_config(),
            "C": 30.0,
            "binary": True,
            "max_iter": 2000,
        }

    def __init__(
        self, config: dict[str, Any], name: str, model_storage: ModelStorage, resource: Resource
    ) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.C = float(self.config["C"])

    def _create_X(self, messages: list[Message]) -> csr_matrix:
        # Only the sparse sentence vectors, stacked once: Rasa's own version also combines
        # every sequence matrix on the way, which took half of the parse time.
        rows = []
        for message in messages:
            parts = [
                f.features
                for f in message.features
                if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()
            ]
            rows.append(hstack(parts) if parts else csr_matrix((1, 0)))
        features = vstack(rows).tocsr()
        return features.sign() if self.config["binary"] else features
