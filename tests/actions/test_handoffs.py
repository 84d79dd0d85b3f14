"""Complaints, handoff to a person, and the two-stage fallback's readable choices."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import ConversationPaused, FollowupAction, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.complaints import ActionRecordComplaint, severity
from actions.handoffs import (
    ActionDefaultAskAffirmation,
    ActionDefaultFallback,
    ActionDeskAgentJoined,
    ActionHandoff,
    ActionRequestCallback,
    ValidateCallbackForm,
)
from bot.client import ServiceClient
from tests.support.trackers import make_tracker, responses, user_event


async def test_a_complaint_is_recorded_and_handed_over(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "修了三次还是坏的，我要打12315投诉你们！",
        "complain",
        slots={"serial_number": "PF7D2V5L"},
        sender="angry-1",
        channel="telegram",
    )
    events = await ActionRecordComplaint().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_complaint_recorded"]
    complaint_id = dispatcher.messages[0]["complaint_id"]
    assert events == [SlotSet("complaint_id", complaint_id), FollowupAction("action_handoff")]
    [complaint] = await service.complaints(conversation_id="angry-1")
    assert (complaint.severity, complaint.serial, complaint.channel) == (
        "critical",
        "PF7D2V5L",
        "telegram",
    )
    # Critical: the customer is told to expect an answer within 4 hours (frozen at 10:00).
    message = dispatcher.messages[0]
    assert (message["due_month"], message["due_day"], message["due_time"]) == (11, 20, "14:00")


def test_severity_from_the_words() -> None:
    assert severity("我要去消协投诉") == "critical"
    assert severity("你们就是骗子") == "high"
    assert severity("服务态度不太好") == "medium"


async def test_the_handoff_carries_the_package_and_pauses(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    slots = {
        "serial_number": "PF7D2V5L",
        "device_model": "XG15",
        "fault": "开机无显示",
        "steps_tried": ["长按电源键30秒", "换电源适配器"],
        "warranty_summary": "可以换货",
        "phone": "13800138000",
    }
    tracker = make_tracker(
        "转人工",
        "request_human",
        slots=slots,
        sender="c-42",
        history=[user_event("笔记本开机没显示", "report_fault")],
    )
    events = await ActionHandoff().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_handoff"]
    assert dispatcher.messages[0]["queue_position"] == 1
    [handoff] = await service.handoffs(conversation_id="c-42")
    assert events == [SlotSet("handoff_id", handoff.id), ConversationPaused()]
    assert handoff.reason == "requested"
    assert handoff.package["steps_tried"] == ["长按电源键30秒", "换电源适配器"]
    assert handoff.package["serial"] == "PF7D2V5L"
    assert handoff.package["warranty"] == "可以换货"
    assert handoff.package["last_message"] == "转人工"


async def test_the_agent_joined_greeting_carries_the_agent_and_the_event(
    dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("转人工", "request_human", slots={"desk_agent": "张敏"})
    assert await ActionDeskAgentJoined().run(dispatcher, tracker, domain) == []
    [message] = dispatcher.messages
    # Rasa keeps these extra keys as the bot event's metadata, which the channels and the
    # desk read (bot.contracts.transcript).
    assert (message["response"], message["desk_agent"], message["desk_event"]) == (
        "utter_desk_agent_joined",
        "张敏",
        "agent_joined",
    )


async def test_no_pause_when_the_desk_cannot_be_reached(
    backend_down: None, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    events = await ActionHandoff().run(dispatcher, make_tracker("人工", "request_human"), domain)
    assert events == []  # paused without a record, nobody would ever answer
    assert responses(dispatcher) == ["utter_handoff_failed"]


async def test_a_complaint_while_the_backend_is_down_still_reaches_a_person(
    backend_down: None, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    events = await ActionRecordComplaint().run(
        dispatcher, make_tracker("太差了", "complain"), domain
    )
    assert events == [FollowupAction("action_handoff")]
    assert responses(dispatcher) == ["utter_complaint_not_recorded"]


async def test_fallback_offers_readable_choices(
    dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.3},
        {"name": "book_repair", "confidence": 0.28},
        {"name": "check_repair_status", "confidence": 0.2},
        {"name": "greet", "confidence": 0.1},
    ]
    tracker = make_tracker("那个修的事儿", "nlu_fallback", ranking=ranking)
    assert await ActionDefaultAskAffirmation().run(dispatcher, tracker, domain) == []
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_affirm_intent"
    assert message["intent_label"] == "预约维修"
    assert [b["title"] for b in message["buttons"]] == [
        "预约维修",
        "查询维修进度",
        "打个招呼",
        "都不是",
    ]
    assert [b["payload"] for b in message["buttons"]] == [
        "/book_repair",
        "/check_repair_status",
        "/greet",
        "/out_of_scope",
    ]


async def test_the_first_failure_asks_again_with_a_menu(
    dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "？？",
        "inform",
        history=[
            user_event("你好", "greet"),
            {"event": "action", "name": "utter_greet"},
            {"event": "action", "name": "action_listen"},
        ],
    )
    assert await ActionDefaultFallback().run(dispatcher, tracker, domain) == [
        UserUtteranceReverted()
    ]
    assert responses(dispatcher) == ["utter_fallback_first"]


async def test_a_message_not_understood_inside_a_form_goes_back_to_the_form(
    dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "嗯？？",
        "nlu_fallback",
        slots={"requested_slot": "city"},
        active_loop="booking_form",
    )
    events = await ActionDefaultFallback().run(dispatcher, tracker, domain)
    # Not reverted: the form asks its question again instead of validating the old message.
    assert events == [FollowupAction("booking_form")]
    assert responses(dispatcher) == ["utter_fallback_in_form"]


async def test_the_second_failure_in_a_row_offers_a_person(
    dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    history = [
        user_event("啊吧啊吧", "inform"),
        {"event": "action", "name": "action_default_fallback"},
        {"event": "rewind"},
        {"event": "action", "name": "action_listen"},
    ]
    events = await ActionDefaultFallback().run(
        dispatcher, make_tracker("？？", "inform", history=history), domain
    )
    assert events == [UserUtteranceReverted()]
    assert responses(dispatcher) == ["utter_default"]
    assert "/request_human" in str(domain["responses"]["utter_default"])


async def test_the_package_names_a_telegram_customer(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("转人工", "request_human", sender="tg-77", channel="telegram")
    tracker.latest_message["metadata"] = {"telegram": {"first_name": "小王", "username": "xw"}}
    await ActionHandoff().run(dispatcher, tracker, domain)
    [handoff] = await service.handoffs(conversation_id="tg-77")
    assert handoff.package["customer_name"] == "小王"


async def test_a_callback_is_added_to_the_open_handoff(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    await ActionHandoff().run(
        dispatcher, make_tracker("转人工", "request_human", sender="cb-1"), domain
    )
    tracker = make_tracker("13912345678", "inform", slots={"phone": "13912345678"}, sender="cb-1")
    events = await ActionRequestCallback().run(dispatcher, tracker, domain)
    [handoff] = await service.handoffs(conversation_id="cb-1")
    assert events == [SlotSet("handoff_id", handoff.id)]
    assert responses(dispatcher)[-1] == "utter_callback_booked"
    # The number reaches the desk in full; the customer's message shows it masked.
    assert dispatcher.messages[-1]["phone"] == "139****5678"


async def test_a_callback_without_a_handoff_creates_one(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("13912345678", "inform", slots={"phone": "13912345678"}, sender="cb-2")
    await ActionRequestCallback().run(dispatcher, tracker, domain)
    [handoff] = await service.handoffs(conversation_id="cb-2")
    assert handoff.status == "waiting"


async def test_a_callback_fails_loudly_when_the_backend_is_down(
    backend_down: None, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("13912345678", "inform", slots={"phone": "13912345678"})
    assert await ActionRequestCallback().run(dispatcher, tracker, domain) == []
    assert responses(dispatcher) == ["utter_callback_failed"]


async def test_the_callback_form_explains_a_bad_number(
    dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("12345", "inform", active_loop="callback_form")
    slots = await ValidateCallbackForm().validate_phone("12345", dispatcher, tracker, domain)
    assert slots == {"phone": None}
    assert responses(dispatcher) == ["utter_phone_invalid"]
