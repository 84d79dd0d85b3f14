"""Product information: the latest firmware and drivers, and the specs of a model."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, BackendFormValidation, client, label, shown, text
from actions.conversation import last_intent_among
from actions.days import day_text
from bot.client import Invalid, NotFound
from bot.contracts.text import normalize_model_code

MAX_RELEASES = 3


class ValidateProductForm(BackendFormValidation):
    retry = "/ask_spec"

    def name(self) -> str:
        return "validate_product_form"

    async def validate_model(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            model = await client().model(normalize_model_code(str(value or "")))
        except (NotFound, Invalid):
            dispatcher.utter_message(response="utter_model_unknown", value=shown(value))
            return {"model": None}
        return {"model": model.code}


class ActionAskModel(BackendAction):
    """Ask for the model; when we know the product kind, offer its models as buttons."""

    retry = "/ask_spec"

    def name(self) -> str:
        return "action_ask_model"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        product = tracker.get_slot("product")
        category = (await client().resolve(str(product))).category if product else None
        if not category:
            dispatcher.utter_message(response="utter_ask_model")
            return []
        models = await client().models(category=category)
        buttons = [
            {
                "title": label(domain, "model_option", code=m.code, name=m.name),
                "payload": f'/inform{{"model": "{m.code}"}}',
            }
            for m in models[:8]
        ]
        dispatcher.utter_message(response="utter_ask_model_of_category", buttons=buttons)
        return []


class ActionProductInfo(BackendAction):
    retry = "/ask_spec"

    def name(self) -> str:
        return "action_product_info"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        code = tracker.get_slot("model")
        if not code:
            return []
        model = await client().model(str(code))
        if last_intent_among(tracker, ("ask_firmware", "ask_spec")) == "ask_firmware":
            if not model.firmware:
                dispatcher.utter_message(response="utter_no_firmware", model_name=model.name)
                return []
            dispatcher.utter_message(response="utter_firmware_intro", model_name=model.name)
            for release in model.firmware[:MAX_RELEASES]:
                compatibility = (
                    text(domain, "utter_firmware_compatibility", value=release.compatibility)
                    if release.compatibility
                    else ""
                )
                dispatcher.utter_message(
                    response="utter_firmware_release",
                    kind=label(domain, f"release_{release.kind}"),
                    version=release.version,
                    date=day_text(domain, release.released_on),
                    notes=release.notes,
                    compatibility=compatibility,
                )
            return [SlotSet("device_model", model.code)]
        lines = "\n".join(
            label(domain, "spec_line", key=key, value=value) for key, value in model.specs.items()
        )
        dispatcher.utter_message(response="utter_spec", model_name=model.name, lines=lines)
        return [SlotSet("device_model", model.code)]
