"""One clean entity list per message: overlaps resolved, ID-shaped values in canonical form.

Two extractors run side by side (CRF for words in context, regexes and lookup tables for IDs
and catalogue names), so the same span can come back twice or under two types: LJ2605DN is
a model code and also has the shape of a serial number. This step keeps one entity per span,
by a fixed priority, and rewrites serials, security codes and work-order ids to the form the
backend uses, dropping values that only looked like an ID.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.contracts.ids import normalize_security_code, normalize_serial, normalize_work_order_id
from bot.contracts.text import normalize_city

# Lower wins when two entities overlap.
PRIORITY = {
    "work_order_id": 0,
    "security_code": 1,
    "phone": 2,
    "model": 3,
    "error_code": 4,
    "serial_number": 5,
    "part": 6,
    "product": 7,
}


def _phone(value: str) -> str | None:
    """Mobiles as 11 digits ("139 2233 4455"); a landline keeps the dash after its area code."""
    kept = "".join(ch for ch in value if ch.isdigit() or ch == "-")
    return (kept if kept.startswith("0") else kept.replace("-", "")) or None


CANONICAL: dict[str, Callable[[str], str | None]] = {
    "serial_number": normalize_serial,
    "security_code": normalize_security_code,
    "work_order_id": normalize_work_order_id,
    "model": lambda v: "".join(v.split()).upper() or None,
    "error_code": lambda v: v.strip().upper() or None,
    "phone": _phone,
    "city": lambda v: normalize_city(v) or None,
}


def _rank(entity: dict[str, Any]) -> tuple[int, int, int]:
    by_regex = 0 if entity.get("extractor") == "RegexEntityExtractor" else 1
    return (PRIORITY.get(entity["entity"], 9), by_regex, -(entity["end"] - entity["start"]))


def resolve(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    for entity in sorted(entities, key=_rank):
        if any(e["start"] < entity["end"] and entity["start"] < e["end"] for e in kept):
            continue
        canonical = CANONICAL.get(entity["entity"])
        if canonical is not None:
            value = canonical(str(entity.get("value", "")))
            if value is None:
                continue
            entity = {**entity, "value": value}
        kept.append(entity)
    return sorted(kept, key=lambda e: e["start"])


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class EntityResolver(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntityResolver:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            entities = message.get(ENTITIES)
            if entities:
                message.set(ENTITIES, resolve(entities), add_to_output=True)
        return messages
