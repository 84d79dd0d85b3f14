"""Anti-counterfeit: check a security code, warn about copied codes, take a counterfeit report."""

from __future__ import annotations

import math
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BackendAction, BackendFormValidation, client, shown
from actions.conversation import idempotency_key, source
from actions.days import day_text
from bot.client import RateLimited
from bot.contracts.ids import normalize_security_code
from bot.contracts.rules import CONSUMABLE_CATEGORIES


def grouped(code: str) -> str:
    """A security code in groups of four, as printed on the label: 8861 2203 5540 9172."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


class ValidateAuthenticityForm(BackendFormValidation):
    retry = "/verify_authenticity"

    def name(self) -> str:
        return "validate_authenticity_form"

    async def validate_security_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        code = normalize_security_code(str(value or ""))
        if code is None:
            dispatcher.utter_message(response="utter_code_invalid", value=shown(value))
        return {"security_code": code}


class ActionVerifyCode(BackendAction):
    retry = "/verify_authenticity"

    def name(self) -> str:
        return "action_verify_code"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        code = tracker.get_slot("security_code")
        if not code:
            return []
        # The slot is emptied after every check, so the next code is asked for afresh.
        done: list[EventType] = [SlotSet("security_code", None), SlotSet("last_code_checked", code)]
        try:
            check = await client().verify_code(str(code), source(tracker))
        except RateLimited as exc:
            dispatcher.utter_message(
                response="utter_code_rate_limited", minutes=max(1, math.ceil(exc.retry_after / 60))
            )
            return done
        if check.result == "unknown" or check.product is None:
            dispatcher.utter_message(response="utter_code_unknown", code=grouped(check.code))
            return done
        if check.result == "genuine":
            dispatcher.utter_message(
                response="utter_code_genuine",
                code=grouped(check.code),
                model_name=check.product.model_name,
                batch=check.product.batch_code,
                produced_on=day_text(domain, check.product.produced_on),
            )
            return done
        first = check.first_queried_at
        dispatcher.utter_message(
            response="utter_code_already_queried",
            code=grouped(check.code),
            model_name=check.product.model_name,
            previous=check.query_count - 1,
            first_queried_at=first.strftime("%Y-%m-%d %H:%M") if first else "",
        )
        return done


class ActionReportCounterfeit(BackendAction):
    retry = "/report_counterfeit"

    def name(self) -> str:
        return "action_report_counterfeit"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        where = tracker.get_slot("where_bought")
        if not where:
            return []
        model = tracker.get_slot("model")
        category = (await client().resolve(str(model))).category if model else None
        report = await client().report_counterfeit(
            key=idempotency_key(tracker, "counterfeit"),
            code=tracker.get_slot("last_code_checked") or tracker.get_slot("security_code"),
            model_code=model if category in CONSUMABLE_CATEGORIES else None,
            source=source(tracker),
            conversation_id=tracker.sender_id,
            where_bought=str(where)[:500],
            city=tracker.get_slot("city"),
            contact=tracker.get_slot("phone"),
        )
        dispatcher.utter_message(response="utter_counterfeit_reported", case_id=report.id)
        return [SlotSet("where_bought", None)]
