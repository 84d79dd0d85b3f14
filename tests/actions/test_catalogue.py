"""Product information actions: firmware releases and specs."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.catalogue import ActionAskModel, ActionProductInfo, ValidateProductForm
from bot.client import ServiceClient
from tests.support.trackers import make_tracker, responses, user_event


async def test_latest_firmware(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "LJ2405D",
        "inform",
        slots={"model": "LJ2405D"},
        history=[user_event("打印机驱动在哪下载", "ask_firmware")],
    )
    events = await ActionProductInfo().run(dispatcher, tracker, domain)
    assert events == [SlotSet("device_model", "LJ2405D")]
    assert responses(dispatcher)[0] == "utter_firmware_intro"
    releases = dispatcher.messages[1:]
    assert 1 <= len(releases) <= 3
    dates = [m["date"] for m in releases]
    assert dates == sorted(dates, reverse=True)
    assert {m["kind"] for m in releases} <= {"BIOS", "固件", "驱动"}


async def test_specs(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("XB14 配置", "ask_spec", slots={"model": "XB14"})
    await ActionProductInfo().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_spec"]
    assert "处理器：" in dispatcher.messages[0]["lines"]


async def test_an_unknown_model_is_asked_again(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "XQ99",
        "inform",
        slots={"requested_slot": "model"},
        extracted={"model": "XQ99"},
        active_loop="product_form",
    )
    assert await ValidateProductForm().run(dispatcher, tracker, domain) == [
        SlotSet("model", None),
        SlotSet("model_tries", 1.0),
    ]
    assert responses(dispatcher) == ["utter_model_unknown"]


async def test_a_second_unknown_model_offers_the_other_ways_and_ends_the_question(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "XQ98吧",
        "inform",
        slots={"requested_slot": "model", "model_tries": 1.0},
        extracted={"model": "XQ98吧"},
        active_loop="product_form",
    )
    events = await ValidateProductForm().run(dispatcher, tracker, domain)
    assert SlotSet("requested_slot", None) in events
    assert SlotSet("model", None) in events
    assert responses(dispatcher) == ["utter_model_unknown_ways"]
    payloads = [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    assert payloads == ["/request_human", "/report_fault"]


async def test_after_a_miss_the_serial_is_asked_for_too(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("XQ99", "inform", slots={"model_tries": 1.0})
    await ActionAskModel().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_ask_model_or_serial"]


async def test_models_of_the_product_are_offered(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    await ActionAskModel().run(
        dispatcher, make_tracker("显示器参数", "ask_spec", slots={"product": "显示器"}), domain
    )
    assert responses(dispatcher) == ["utter_ask_model_of_category"]
    payloads = [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    assert '/inform{"model": "MT27Q"}' in payloads
