"""Warranty actions: serial validation, the verdict in words, policy answers, extensions."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.warranty import (
    ActionAskPlanCode,
    ActionBuyExtension,
    ActionPolicyAnswer,
    ActionWarrantyVerdict,
    ValidateWarrantyForm,
)
from bot.client import ServiceClient
from tests.support.trackers import make_tracker, responses

SERIAL = {"entity": "serial_number", "value": "PF2K7Q9A", "start": 0, "end": 8}


async def test_a_known_serial_fills_the_device(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "PF2K7Q9A",
        "inform",
        entities=[SERIAL],
        slots={"requested_slot": "serial_number"},
        extracted={"serial_number": "PF2K7Q9A"},
        active_loop="warranty_form",
    )
    events = await ValidateWarrantyForm().run(dispatcher, tracker, domain)
    assert events == [
        SlotSet("serial_number", "PF2K7Q9A"),
        SlotSet("device_model", "XB14"),
        SlotSet("device_category", "laptop"),
    ]
    assert dispatcher.messages == []


async def test_an_unknown_serial_is_asked_again(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "ZZ12345678",
        "inform",
        slots={"requested_slot": "serial_number"},
        extracted={"serial_number": "ZZ12345678"},
        active_loop="warranty_form",
    )
    events = await ValidateWarrantyForm().run(dispatcher, tracker, domain)
    assert events == [SlotSet("serial_number", None)]
    assert responses(dispatcher) == ["utter_serial_not_found"]


async def test_the_verdict_in_words(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("", slots={"serial_number": "PF2K7Q9A", "part": "主板"})
    events = await ActionWarrantyVerdict().run(dispatcher, tracker, domain)
    summary = dispatcher.messages[0]["text"]
    # The clock is frozen on Friday 2026-11-20: the dates carry their weekday.
    assert "星辰 XB14" in summary and "退货（截至11月24日 周二）" in summary
    assert (
        "换货（截至12月2日 周三）" in summary and "免费维修（截至2028年11月17日 周五）" in summary
    )
    assert responses(dispatcher) == [None, "utter_verdict_reason", "utter_verdict_next"]
    assert "第十一条" in dispatcher.messages[1]["article"]
    # Outside the web chat: text only, as before.
    assert all(not m.get("custom") for m in dispatcher.messages)
    assert events == [SlotSet("warranty_summary", summary)]


async def test_the_verdict_on_the_web_chat_is_a_card(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "", slots={"serial_number": "PF2K7Q9A", "part": "主板"}, channel="webchat"
    )
    events = await ActionWarrantyVerdict().run(dispatcher, tracker, domain)
    first, offer = dispatcher.messages
    card = first["custom"]
    assert card["card"] == "verdict" and card["serial"] == "PF2K7Q9A"
    assert [(r["remedy"], r["until"]) for r in card["remedies"]] == [
        ("return", "2026-11-24"),
        ("exchange", "2026-12-02"),
        ("free_repair", "2028-11-17"),
    ]
    assert card["remedies"][0]["text"] == "退货（截至11月24日 周二）"
    # The basis is in the card (folded on the page) and in the text, for the desk and the
    # history: one message says what the other channels say in two.
    assert len(card["basis"]) == 1 and card["basis"][0].startswith("依据：")
    assert "第十一条" in card["basis"][0]
    summary = events[0]["value"]
    assert first["text"] == summary + "\n" + card["basis"][0]
    assert card["labels"]["basis"] == "法律依据"
    assert offer["response"] == "utter_verdict_next"


async def test_an_expired_printer(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    await ActionWarrantyVerdict().run(
        dispatcher, make_tracker("", slots={"serial_number": "CN0H4T2M11"}), domain
    )
    assert "付费维修" in dispatcher.messages[0]["text"]


async def test_without_a_part_the_main_parts_still_free_are_said_with_the_paid_others(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    # PF4N9C2H: a laptop 400 days after its invoice; other parts paid, main parts free.
    await ActionWarrantyVerdict().run(
        dispatcher, make_tracker("", slots={"serial_number": "PF4N9C2H"}), domain
    )
    summary = dispatcher.messages[0]["text"]
    assert "主要部件" in summary and "2027年" in summary and "付费维修" in summary


async def test_a_policy_question_is_answered_with_its_article(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    topic = {"entity": "policy_topic", "value": "return_window", "start": 2, "end": 4}
    tracker = make_tracker("7天能退货吗", "ask_warranty_policy", entities=[topic])
    assert await ActionPolicyAnswer().run(dispatcher, tracker, domain) == []
    assert responses(dispatcher) == ["utter_policy_rule", "utter_policy_more"]
    assert "7日内" in dispatcher.messages[0]["rule"]
    assert "第十一条" in dispatcher.messages[0]["article"]


async def test_a_printer_policy_question_uses_the_manufacturer_policy(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    product = {"entity": "product", "value": "打印机", "start": 0, "end": 3}
    await ActionPolicyAnswer().run(
        dispatcher,
        make_tracker("打印机保修多久", "ask_warranty_policy", entities=[product]),
        domain,
    )
    assert responses(dispatcher)[0] == "utter_policy_overview"
    assert "打印" in dispatcher.messages[0]["title"]


@pytest.mark.parametrize(("part", "title"), [("硒鼓", "耗材"), ("墨水", "耗材"), ("电池", "电池")])
async def test_a_consumable_policy_question_is_answered_from_its_own_table(
    service: ServiceClient, domain: dict[str, Any], part: str, title: str
) -> None:
    dispatcher = CollectingDispatcher()
    said = f"{part}坏了给换吗"
    found = {"entity": "part", "value": part, "start": 0, "end": len(part)}
    await ActionPolicyAnswer().run(
        dispatcher, make_tracker(said, "ask_warranty_policy", entities=[found]), domain
    )
    assert title in dispatcher.messages[0]["title"], dispatcher.messages[0]
    assert "微型计算机" not in dispatcher.messages[0]["title"]


async def test_buying_an_extension(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    slots = {"serial_number": "MJ5R8W2K", "plan_code": "EW-PC-1Y", "extension_confirmed": True}
    events = await ActionBuyExtension().run(
        dispatcher, make_tracker("确认", "affirm", slots=slots), domain
    )
    assert events == [SlotSet("plan_code", None), SlotSet("extension_confirmed", None)]
    assert responses(dispatcher) == ["utter_extension_done"]
    assert (await service.device("MJ5R8W2K")).extended_until is not None
    again = CollectingDispatcher()
    await ActionBuyExtension().run(again, make_tracker("再买一次", "affirm", slots=slots), domain)
    assert responses(again) == ["utter_extension_not_eligible"]


async def test_backend_down_inside_a_form_pauses_it(
    backend_down: None, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "PF2K7Q9A",
        "inform",
        slots={"requested_slot": "serial_number"},
        extracted={"serial_number": "PF2K7Q9A"},
        active_loop="warranty_form",
    )
    events = await ValidateWarrantyForm().run(dispatcher, tracker, domain)
    assert events == [ActiveLoop(None), SlotSet("requested_slot", None)]
    assert responses(dispatcher) == ["utter_backend_down"]
    assert dispatcher.messages[0]["retry"] == "/check_warranty"


async def test_plans_are_offered_only_to_a_device_that_can_buy_one(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("MJ5R8W2K", "inform", slots={"serial_number": "MJ5R8W2K"})
    assert await ActionAskPlanCode().run(dispatcher, tracker, domain) == []
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        '/inform{"plan_code": "EW-PC-1Y"}',
        '/inform{"plan_code": "EW-PC-2Y"}',
    ]
    expired = CollectingDispatcher()
    tracker = make_tracker("CN0H4T2M11", "inform", slots={"serial_number": "CN0H4T2M11"})
    events = await ActionAskPlanCode().run(expired, tracker, domain)
    assert events == [SlotSet("requested_slot", None)]
    assert responses(expired) == ["utter_extension_not_eligible"]
    assert expired.messages[0]["reason"].startswith("标准保修期已经结束")
