"""Anti-counterfeit actions: genuine, copied and unknown codes, brute force, reports."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.authenticity import ActionReportCounterfeit, ActionVerifyCode, ValidateAuthenticityForm
from bot.client import ServiceClient
from bot.demo import COPIED_CODE, GENUINE_CODE, UNKNOWN_CODE
from tests.support.trackers import make_tracker, responses


async def verify(
    code: str, domain: dict[str, Any], sender: str = "c1"
) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        code, "verify_authenticity", slots={"security_code": code}, sender=sender
    )
    return await ActionVerifyCode().run(dispatcher, tracker, domain), dispatcher


async def test_genuine_then_already_queried(service: ServiceClient, domain: dict[str, Any]) -> None:
    events, first = await verify(GENUINE_CODE, domain)
    assert events == [SlotSet("security_code", None), SlotSet("last_code_checked", GENUINE_CODE)]
    assert responses(first) == ["utter_code_genuine"]
    # As printed on the label, so the customer can compare it at a glance.
    assert first.messages[0]["code"] == "8861 2203 5540 9172"
    _, second = await verify(GENUINE_CODE, domain, sender="c2")
    assert responses(second) == ["utter_code_already_queried"]
    assert second.messages[0]["previous"] == 1


async def test_a_copied_code_warns_with_the_count(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    _, dispatcher = await verify(COPIED_CODE, domain)
    assert responses(dispatcher) == ["utter_code_already_queried"]
    assert dispatcher.messages[0]["previous"] == 37
    assert dispatcher.messages[0]["first_queried_at"] < "2026-11-20"


async def test_an_unknown_code(service: ServiceClient, domain: dict[str, Any]) -> None:
    _, dispatcher = await verify(UNKNOWN_CODE, domain)
    assert responses(dispatcher) == ["utter_code_unknown"]


async def test_a_guesser_is_told_to_wait(service: ServiceClient, domain: dict[str, Any]) -> None:
    for _ in range(10):
        await verify(COPIED_CODE, domain, sender="guesser")
    _, dispatcher = await verify(COPIED_CODE, domain, sender="guesser")
    assert responses(dispatcher) == ["utter_code_rate_limited"]
    assert dispatcher.messages[0]["minutes"] == 1


async def test_malformed_codes_get_a_hint(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "1234 5678",
        "inform",
        slots={"requested_slot": "security_code"},
        extracted={"security_code": "1234 5678"},
        active_loop="authenticity_form",
    )
    assert await ValidateAuthenticityForm().run(dispatcher, tracker, domain) == [
        SlotSet("security_code", None)
    ]
    assert responses(dispatcher) == ["utter_code_invalid"]
    ok = CollectingDispatcher()
    tracker = make_tracker(
        "８８６１-２２０３-５５４０-９１７２",
        "inform",
        slots={"requested_slot": "security_code"},
        extracted={"security_code": "８８６１-２２０３-５５４０-９１７２"},
        active_loop="authenticity_form",
    )
    assert await ValidateAuthenticityForm().run(ok, tracker, domain) == [
        SlotSet("security_code", GENUINE_CODE)
    ]


async def test_a_report_opens_a_case(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    slots = {
        "where_bought": "淘宝上一家叫“办公耗材批发”的店",
        "last_code_checked": COPIED_CODE,
        "model": "TN2405",
    }
    tracker = make_tracker("淘宝上一家叫“办公耗材批发”的店", "inform", slots=slots)
    events = await ActionReportCounterfeit().run(dispatcher, tracker, domain)
    assert events == [SlotSet("where_bought", None)]
    assert responses(dispatcher) == ["utter_counterfeit_reported"]
    assert dispatcher.messages[0]["case_id"] == "CF20261120-0001"
    retried = CollectingDispatcher()
    await ActionReportCounterfeit().run(retried, tracker, domain)
    assert retried.messages[0]["case_id"] == "CF20261120-0001"  # the same turn, retried: one case
