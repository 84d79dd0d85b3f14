"""Product information: the latest firmware and drivers, and the specs of a model."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, BackendFormValidation, client, label, shown, text
from actions.conversation import entity, last_intent_among, latest_intent, latest_text
from actions.days import day_text
from bot.client import Invalid, NotFound
from bot.contracts.ids import normalize_serial
from bot.contracts.text import normalize_model_code

MAX_RELEASES = 3
# The model question is asked this many times at most; then the other ways are offered.
MODEL_TRIES = 2
TRIES = "model_tries"
# Intents of an answer to the model question (a digression is left to the rules).
ANSWER_INTENTS = {"inform", "nlu_fallback", "ask_spec", "ask_firmware", "out_of_scope", None}
_MODEL_LIKE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,4}-?\d{2,5}[A-Za-z]{0,3}(?![A-Za-z0-9])")
_TOKENS = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{5,}")


class ValidateProductForm(BackendFormValidation):
    retry = "/ask_spec"

    def name(self) -> str:
        return "validate_product_form"

    async def extract_model(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # Whatever is typed at the model question is a try: an unknown model must be said to
        # be unknown, not asked for again as if nothing had been heard.
        said = latest_text(tracker)
        requested = tracker.get_slot("requested_slot")
        if requested is None and not entity(tracker, "model") and not tracker.get_slot("model"):
            # "XB17 什么配置": a model the NLU does not know is still a model asked about.
            token = _MODEL_LIKE.search(said)
            return {"model": token.group(0)} if token else {}
        if (
            requested != "model"
            or entity(tracker, "model")
            or not said
            or said.startswith("/")
            or latest_intent(tracker) not in ANSWER_INTENTS
        ):
            return {}
        serial = entity(tracker, "serial_number") or next(
            (s for s in map(normalize_serial, [said, *_TOKENS.findall(said)]) if s), None
        )
        if serial:
            # The serial route: the device registry knows its model.
            try:
                return {"model": (await client().device(serial)).model_code}
            except (NotFound, Invalid):
                pass
        return {"model": said}

    async def validate_model(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            model = await client().model(normalize_model_code(str(value or "")))
        except (NotFound, Invalid):
            tries = int(tracker.get_slot(TRIES) or 0) + 1
            if tries >= MODEL_TRIES:
                # No loop: say what else can be done, and leave the question.
                dispatcher.utter_message(
                    response="utter_model_unknown_ways", value=shown(value), buttons=_ways(domain)
                )
                return {"model": None, TRIES: None, "requested_slot": None}
            dispatcher.utter_message(response="utter_model_unknown", value=shown(value))
            return {"model": None, TRIES: float(tries)}
        return {"model": model.code, TRIES: None}


def _ways(domain: DomainDict) -> list[dict[str, str]]:
    """The ways on when the model is not found: a person, or describe the problem."""
    return [
        {"title": label(domain, "way_person"), "payload": "/request_human"},
        {"title": label(domain, "way_fault"), "payload": "/report_fault"},
    ]


class ActionAskModel(BackendAction):
    """Ask for the model; when we know the product kind, offer its models as buttons."""

    retry = "/ask_spec"

    def name(self) -> str:
        return "action_ask_model"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot(TRIES):
            # Asked once and not found: ask for the serial as well, not the same words again.
            dispatcher.utter_message(response="utter_ask_model_or_serial")
            return []
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
