"""Warranty: the 三包 verdict for the customer's device, policy questions, extended warranty."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cards import verdict_card
from actions.common import (
    BackendAction,
    BackendFormValidation,
    check_serial,
    client,
    joined,
    label,
    text,
)
from actions.conversation import channel, entity, idempotency_key
from actions.days import day_text
from bot.client import Conflict, Invalid, NotFound
from bot.contracts.warranty import CoverageOut, Verdict
from bot.sanbao import Policy

# Policy questions without a product are about PCs: the state regulation is the usual subject.
DEFAULT_CATEGORY = "laptop"


class ValidateWarrantyForm(BackendFormValidation):
    retry = "/check_warranty"

    def name(self) -> str:
        return "validate_warranty_form"

    async def validate_serial_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await check_serial(value, dispatcher)

    async def extract_serial_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # "不知道在哪" while we ask for it: say where to look, keep asking.
        if (
            tracker.get_slot("requested_slot") == "serial_number"
            and tracker.latest_message.get("intent", {}).get("name") == "deny"
        ):
            dispatcher.utter_message(response="utter_serial_where")
        return {}


def _by_group(verdict: Verdict) -> CoverageOut | None:
    """The main parts' coverage, when no part was named and the rest is paid by now."""
    if verdict.part is not None or verdict.remedy != "paid_repair":
        return None
    return next((c for c in verdict.coverage if c.requires == "main_part" and c.active), None)


def verdict_text(domain: DomainDict, verdict: Verdict) -> str:
    options = joined(
        domain,
        (
            label(domain, f"remedy_{o.remedy}", until=day_text(domain, o.until) if o.until else "")
            for o in verdict.options
        ),
    )
    age = (
        text(domain, "utter_verdict_age_days", days=verdict.days_since_invoice)
        if verdict.days_since_invoice is not None
        else text(domain, "utter_verdict_no_invoice")
    )
    main = _by_group(verdict)
    if main is not None:
        # No part named: one verdict for the weakest group would hide that the main parts
        # are still free. Say both groups, in the same sentence.
        return text(
            domain,
            "utter_verdict_by_group",
            model_name=verdict.model_name,
            serial=verdict.serial,
            age=age,
            policy_title=verdict.policy_title,
            until=day_text(domain, main.ends_on),
            options=options,
        )
    return text(
        domain,
        "utter_verdict",
        model_name=verdict.model_name,
        serial=verdict.serial,
        age=age,
        policy_title=verdict.policy_title,
        options=options,
    )


class ActionWarrantyVerdict(BackendAction):
    retry = "/check_warranty"

    def name(self) -> str:
        return "action_warranty_verdict"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        serial = tracker.get_slot("serial_number")
        if not serial or serial == "none":
            return []
        part = None
        if tracker.get_slot("part"):
            part = (await client().resolve(str(tracker.get_slot("part")))).part
        verdict = await client().verdict(str(serial), part=part)
        summary = verdict_text(domain, verdict)
        # The "past the warranty, paid repair" reason would contradict the main parts' line.
        reasons = [] if _by_group(verdict) is not None else verdict.reasons
        said = [
            {
                "reason": reason.text,
                "article": text(
                    domain, "utter_verdict_article", source=verdict.source, article=reason.article
                )
                if reason.article
                else "",
            }
            for reason in reasons
        ]
        if channel(tracker) == "webchat":
            # One card with the basis folded in it; its text, for the desk and the history,
            # is every line the other channels get one by one.
            basis = [text(domain, "utter_verdict_reason", **values) for values in said]
            card = verdict_card(domain, verdict, summary, _by_group(verdict), basis)
            dispatcher.utter_message(text="\n".join([summary, *basis]), json_message=card)
        else:
            dispatcher.utter_message(text=summary)
            for values in said:
                dispatcher.utter_message(response="utter_verdict_reason", **values)
        dispatcher.utter_message(response="utter_verdict_next")
        return [SlotSet("warranty_summary", summary)]


# policy_topic values (synonyms in data/nlu/warranty.yml) → what to show of the policy.
TOPIC_WINDOWS = {
    "return_window": ("return_window",),
    "exchange_window": ("exchange_window",),
    "periods": ("whole_machine", "whole_unit", "main_parts", "exchange_window"),
    "main_parts": ("main_parts",),
}


def _article(domain: DomainDict, policy: Policy, article: str | None) -> str:
    return (
        text(domain, "utter_verdict_article", source=policy.source, article=article)
        if article
        else ""
    )


class ActionPolicyAnswer(BackendAction):
    """Answer a 三包 question from the policy tables, with the article it rests on."""

    retry = "/ask_warranty_policy"

    def name(self) -> str:
        return "action_policy_answer"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        words = " ".join(
            str(v)
            for v in (
                entity(tracker, "product"),
                entity(tracker, "model"),
                # 硒鼓, 墨水, 感光鼓, 电池 are parts to the NLU and categories with their
                # own policy tables to the backend: asked about alone, their table answers.
                entity(tracker, "part"),
                tracker.get_slot("device_category"),
            )
            if v
        )
        category = (await client().resolve(words)).category if words else None
        policies = await client().policies(category or DEFAULT_CATEGORY)
        policy = policies[0]
        topic = entity(tracker, "policy_topic")
        rules = self._rules(policy, topic)
        if not rules:
            dispatcher.utter_message(
                response="utter_policy_overview", title=policy.title, source=policy.source
            )
            rules = [(w.reason, w.article) for w in policy.windows]
        for reason, article in rules:
            dispatcher.utter_message(
                response="utter_policy_rule",
                title=policy.title,
                rule=reason,
                article=_article(domain, policy, article),
            )
        dispatcher.utter_message(response="utter_policy_more")
        return []

    @staticmethod
    def _rules(policy: Policy, topic: str | None) -> list[tuple[str, str | None]]:
        if topic in TOPIC_WINDOWS:
            wanted = TOPIC_WINDOWS[topic]
            return [(w.reason, w.article) for w in policy.windows if w.key in wanted]
        if topic == "repeat_repair" and policy.repeat_repair:
            return [(policy.repeat_repair.reason, policy.repeat_repair.article)]
        if topic == "exclusions":
            return [(e.reason, e.article) for e in policy.exclusions if e.key != "no_invoice"]
        if topic == "no_invoice":
            return [(e.reason, e.article) for e in policy.exclusions if e.key == "no_invoice"]
        if topic == "extension" and policy.repair_guarantee:
            return [(policy.repair_guarantee.reason, policy.repair_guarantee.article)]
        return []


class ValidateExtensionForm(BackendFormValidation):
    retry = "/extend_warranty"

    def name(self) -> str:
        return "validate_extension_form"

    async def validate_serial_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await check_serial(value, dispatcher)

    async def validate_plan_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        plans = await client().plans(serial=str(tracker.get_slot("serial_number")))
        if str(value) not in {p.code for p in plans}:
            return {"plan_code": None}
        return {"plan_code": str(value)}


class ActionAskPlanCode(BackendAction):
    retry = "/extend_warranty"

    def name(self) -> str:
        return "action_ask_plan_code"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            plans = await client().plans(serial=str(tracker.get_slot("serial_number")))
        except Conflict as exc:
            # Say why before offering anything: out of coverage, no invoice, already extended.
            not_eligible(dispatcher, domain, exc.code)
            return [SlotSet("requested_slot", None)]
        if not plans:
            dispatcher.utter_message(response="utter_no_plans")
            return [SlotSet("requested_slot", None)]
        buttons = [
            {
                "title": label(
                    domain, "plan_option", name=p.name, price=f"{p.price_cents / 100:.0f}"
                ),
                "payload": f'/inform{{"plan_code": "{p.code}"}}',
            }
            for p in plans
        ]
        dispatcher.utter_message(response="utter_ask_plan_code", buttons=buttons)
        return []


class ActionAskExtensionConfirmed(BackendAction):
    retry = "/extend_warranty"

    def name(self) -> str:
        return "action_ask_extension_confirmed"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        serial = str(tracker.get_slot("serial_number"))
        code = str(tracker.get_slot("plan_code"))
        plan = next((p for p in await client().plans(serial=serial) if p.code == code), None)
        if plan is None:
            return [SlotSet("plan_code", None)]
        dispatcher.utter_message(
            response="utter_ask_extension_confirmed",
            serial=serial,
            plan_name=plan.name,
            price=f"{plan.price_cents / 100:.0f}",
        )
        return []


EXTENSION_REASONS = {
    "coverage_expired": "utter_extension_reason_expired",
    "already_extended": "utter_extension_reason_already",
    "no_invoice": "utter_extension_reason_no_invoice",
}


def not_eligible(dispatcher: CollectingDispatcher, domain: DomainDict, code: str) -> None:
    reason = text(domain, EXTENSION_REASONS.get(code, "utter_extension_reason_other"))
    dispatcher.utter_message(response="utter_extension_not_eligible", reason=reason)


class ActionBuyExtension(BackendAction):
    retry = "/extend_warranty"

    def name(self) -> str:
        return "action_buy_extension"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        serial, plan = tracker.get_slot("serial_number"), tracker.get_slot("plan_code")
        reset: list[EventType] = [SlotSet("plan_code", None), SlotSet("extension_confirmed", None)]
        if not tracker.get_slot("extension_confirmed"):
            if serial and plan:
                dispatcher.utter_message(response="utter_extension_dropped")
            return reset
        try:
            bought = await client().buy_extension(
                str(serial), str(plan), key=idempotency_key(tracker, "extension")
            )
        except (Conflict, Invalid, NotFound) as exc:
            not_eligible(dispatcher, domain, exc.code)
            return reset
        dispatcher.utter_message(
            response="utter_extension_done",
            extension_id=bought.id,
            starts_on=day_text(domain, bought.starts_on),
            ends_on=day_text(domain, bought.ends_on),
        )
        return reset
