"""Proving a work order is yours before the bot shows or changes it, and masking in messages.

Every path of actions/workorders/proof.py against the real backend: an order of this
conversation needs no check; another one is asked for; three wrong answers refuse and offer a
person; the right digits (or the whole number) show it and let it be cancelled; status by
serial hides what is not proven; a lookup by phone needs the whole number. Also the second
wall: the closing actions refuse an order that was never proven, whatever the slots say.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import text
from actions.workorders.booking import ActionBookRepair
from actions.workorders.changes import (
    ActionAskCancelConfirmed,
    ActionCancelBooking,
    ActionReschedule,
    ValidateCancelForm,
    ValidateRescheduleForm,
)
from actions.workorders.proof import ActionAskPhoneProof, read_proof
from actions.workorders.status import ActionCheckStatus, ValidateStatusForm
from bot.client import ServiceClient
from bot.demo import DEMO_ORDER_PHONES
from tests.support.database import NOW
from tests.support.trackers import make_tracker, responses

TOMORROW = NOW.date() + timedelta(days=1)
DEMO_ORDER = "WO20261120-0001"  # the demo booking of MJ5R8W2K, made outside any conversation
DEMO_TAIL = DEMO_ORDER_PHONES["MJ5R8W2K"][-4:]
ME = "customer-1"  # make_tracker's conversation


async def _book(
    service: ServiceClient,
    conversation: str | None,
    *,
    serial: str = "PF2K7Q9A",
    kind: str = "drop_off",
    phone: str = "13800138000",
    address: str | None = None,
) -> str:
    order = await service.book(
        kind=kind,
        serial=serial,
        fault="屏幕闪",
        station_code="BJ01" if kind == "drop_off" else "BJ02",
        slot_date=TOMORROW,
        slot_start="09:00" if kind == "drop_off" else "10:30",
        phone=phone,
        address=address,
        conversation_id=conversation,
        channel="rest" if conversation else None,
    )
    return order.id


async def _name_order(
    form: Any, order_id: str, domain: dict[str, Any], **slots: Any
) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        order_id,
        "inform",
        slots={"requested_slot": "work_order_id", **slots},
        extracted={"work_order_id": order_id},
        active_loop=form.name().removeprefix("validate_"),
    )
    return await form.run(dispatcher, tracker, domain), dispatcher


async def _answer(
    form: Any,
    said: str,
    domain: dict[str, Any],
    slots: dict[str, Any],
    *,
    intent: str = "inform",
    sender: str = ME,
) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        said,
        intent,
        slots={"requested_slot": "phone_proof", **slots},
        extracted={"phone_proof": said},
        active_loop=form.name().removeprefix("validate_"),
        sender=sender,
    )
    return await form.run(dispatcher, tracker, domain), dispatcher


def _rendered(domain: dict[str, Any], dispatcher: CollectingDispatcher) -> str:
    """The customer's view: each message's response with its values filled in."""
    return "\n".join(
        text(domain, str(m["response"]), **{k: v for k, v in m.items() if v is not None})
        for m in dispatcher.messages
    )


def _offers_a_person(domain: dict[str, Any], response: str) -> bool:
    return all(
        "/request_human" in [b["payload"] for b in variation.get("buttons", [])]
        for variation in domain["responses"][response]
    )


# --- whose order is it -------------------------------------------------------------------


async def test_an_order_of_this_conversation_needs_no_proof(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    mine = await _book(service, ME)
    events, dispatcher = await _name_order(ValidateCancelForm(), mine, domain)
    assert SlotSet("phone_proof", "own") in events
    assert responses(dispatcher) == []
    # The same conversation id on another channel is not this conversation.
    elsewhere = await service.book(
        kind="drop_off",
        model_code="XB14",
        fault="x",
        station_code="BJ01",
        slot_date=TOMORROW,
        slot_start="09:00",
        phone="13800138000",
        conversation_id=ME,
        channel="telegram",
    )
    events, _ = await _name_order(ValidateCancelForm(), elsewhere.id, domain)
    assert SlotSet("phone_proof", None) in events


async def test_another_customers_order_asks_for_the_phone(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    events, dispatcher = await _name_order(ValidateCancelForm(), DEMO_ORDER, domain)
    assert events == [
        SlotSet("work_order_id", DEMO_ORDER),
        SlotSet("phone_proof", None),
    ]
    assert responses(dispatcher) == []  # nothing about the order is said yet
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "", slots={"work_order_id": DEMO_ORDER, "requested_slot": "phone_proof"},
        active_loop="cancel_form",
    )  # fmt: skip
    await ActionAskPhoneProof().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_ask_phone_proof"]
    assert dispatcher.messages[0]["work_order_id"] == DEMO_ORDER
    assert DEMO_ORDER_PHONES["MJ5R8W2K"][:3] not in _rendered(domain, dispatcher)


async def test_three_wrong_answers_refuse_and_offer_a_person(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    slots = {"work_order_id": DEMO_ORDER}
    events, dispatcher = await _answer(ValidateCancelForm(), "尾号1111", domain, slots)
    assert SlotSet("phone_proof", None) in events
    assert responses(dispatcher) == ["utter_proof_wrong"]
    assert dispatcher.messages[0]["tries_left"] == 2
    # Words without digits are no try.
    events, dispatcher = await _answer(ValidateCancelForm(), "就是我的啊", domain, slots)
    assert responses(dispatcher) == ["utter_proof_invalid"]
    _, dispatcher = await _answer(ValidateCancelForm(), "2222", domain, slots)
    assert dispatcher.messages[0]["tries_left"] == 1
    events, dispatcher = await _answer(ValidateCancelForm(), "后四位是 3333", domain, slots)
    assert responses(dispatcher) == ["utter_proof_refused"]
    assert _offers_a_person(domain, "utter_proof_refused")
    assert events == [
        SlotSet("phone_proof", "refused"),
        SlotSet("requested_slot", None),
        SlotSet("work_order_id", None),
    ]
    # The right digits come too late for this conversation.
    _, dispatcher = await _answer(ValidateCancelForm(), DEMO_TAIL, domain, slots)
    assert responses(dispatcher) == ["utter_proof_refused"]
    assert (await service.work_order(DEMO_ORDER)).status == "scheduled"


async def test_the_right_digits_show_the_order_and_let_it_be_cancelled(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    slots = {"work_order_id": DEMO_ORDER}
    _, dispatcher = await _answer(ValidateCancelForm(), "1234", domain, slots)
    assert responses(dispatcher) == ["utter_proof_wrong"]
    events, dispatcher = await _answer(ValidateCancelForm(), f"尾号{DEMO_TAIL}", domain, slots)
    assert responses(dispatcher) == ["utter_proof_passed"]
    assert SlotSet("proven_orders", [DEMO_ORDER]) in events
    assert SlotSet("phone_proof", "passed") in events
    proven = {"work_order_id": DEMO_ORDER, "proven_orders": [DEMO_ORDER]}
    dispatcher = CollectingDispatcher()
    await ActionAskCancelConfirmed().run(dispatcher, make_tracker("", slots=proven), domain)
    assert responses(dispatcher) == ["utter_ask_cancel_confirmed"]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("确定", "affirm", slots={**proven, "cancel_confirmed": True})
    await ActionCancelBooking().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_cancel_done"]
    assert (await service.work_order(DEMO_ORDER)).status == "cancelled"


async def test_the_whole_number_is_a_proof_too(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    phone = DEMO_ORDER_PHONES["MJ5R8W2K"]
    spaced = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
    events, dispatcher = await _answer(
        ValidateRescheduleForm(), spaced, domain, {"work_order_id": DEMO_ORDER}
    )
    assert responses(dispatcher) == ["utter_proof_passed"]
    assert SlotSet("proven_orders", [DEMO_ORDER]) in events


async def test_not_remembering_refuses_and_offers_a_person(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    for said, intent in (("不记得了", "deny"), ("忘了留的哪个号", "inform"), ("/deny", "deny")):
        events, dispatcher = await _answer(
            ValidateCancelForm(), said, domain, {"work_order_id": DEMO_ORDER}, intent=intent
        )
        assert responses(dispatcher) == ["utter_proof_given_up"], said
        assert SlotSet("phone_proof", "refused") in events
    assert _offers_a_person(domain, "utter_proof_given_up")
    # Nothing was tried: the customer still has three tries.
    _, dispatcher = await _answer(
        ValidateCancelForm(), "0000", domain, {"work_order_id": DEMO_ORDER}
    )
    assert dispatcher.messages[0]["tries_left"] == 2


async def test_another_order_named_instead_of_digits_costs_no_try(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    mine = await _book(service, ME)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        f"不是这个，是 {mine}",
        "inform",
        entities=[{"entity": "work_order_id", "value": mine}],
        slots={"requested_slot": "phone_proof", "work_order_id": DEMO_ORDER},
        extracted={"work_order_id": mine, "phone_proof": f"不是这个，是 {mine}"},
        active_loop="cancel_form",
    )
    events = await ValidateCancelForm().run(dispatcher, tracker, domain)
    assert SlotSet("work_order_id", mine) in events
    assert SlotSet("phone_proof", "own") in events
    assert responses(dispatcher) == []


# --- the closing actions: the second wall --------------------------------------------------


async def test_a_strangers_cancel_is_refused_whatever_the_slots_say(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    """The attack of issue 11: "帮我取消 WO…" from a stranger, even with the slots forged."""
    slots = {"work_order_id": DEMO_ORDER, "phone_proof": "passed", "cancel_confirmed": True}
    dispatcher = CollectingDispatcher()
    await ActionCancelBooking().run(
        dispatcher, make_tracker("确定", "affirm", slots=slots, sender="stranger"), domain
    )
    assert responses(dispatcher) == ["utter_proof_needed"]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "周一", "inform", slots={**slots, "booking_slot": "2026-11-23T09:00"}, sender="stranger"
    )
    await ActionReschedule().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_proof_needed"]
    order = await service.work_order(DEMO_ORDER)
    assert (order.status, order.reschedule_count) == ("scheduled", 0)


async def test_a_status_question_during_a_booking_shows_no_strangers_order(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        f"{DEMO_ORDER} 修到哪了", "check_repair_status", slots={"work_order_id": DEMO_ORDER},
        active_loop="booking_form",
    )  # fmt: skip
    assert await ActionCheckStatus().run(dispatcher, tracker, domain) == [
        SlotSet("status_lookup", None),
        SlotSet("phone_proof", None),
    ]
    assert responses(dispatcher) == ["utter_proof_needed"]


async def test_a_refused_proof_ends_the_status_form_in_silence(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "3333", "inform", slots={"status_lookup": DEMO_ORDER, "phone_proof": "refused"}
    )
    await ActionCheckStatus().run(dispatcher, tracker, domain)
    assert dispatcher.messages == []


# --- status -------------------------------------------------------------------------------


async def test_status_by_id_after_the_proof_shows_the_order_masked(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    onsite = await _book(
        service,
        None,
        kind="on_site",
        phone="13912345678",
        address="朝阳区建国门外大街1号国贸大厦A座",
    )
    events = await ValidateStatusForm().run(
        CollectingDispatcher(),
        make_tracker(
            onsite, "inform", slots={"requested_slot": "status_lookup"},
            extracted={"status_lookup": onsite}, active_loop="status_form",
        ),
        domain,
    )  # fmt: skip
    assert SlotSet("phone_proof", None) in events
    events, dispatcher = await _answer(
        ValidateStatusForm(), "尾号5678", domain, {"status_lookup": onsite}
    )
    assert responses(dispatcher) == ["utter_proof_passed"]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "", slots={"status_lookup": onsite, "phone_proof": "passed", "proven_orders": [onsite]}
    )
    await ActionCheckStatus().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_status"]
    shown = _rendered(domain, dispatcher)
    assert "联系电话：139****5678，上门地址：朝阳区建国门外大街**。" in shown
    assert "13912345678" not in shown and "1号国贸大厦" not in shown


async def test_status_by_serial_lists_only_what_the_customer_may_see(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    mine = await _book(service, ME, serial="MJ5R8W2K")
    dispatcher = CollectingDispatcher()
    await ActionCheckStatus().run(
        dispatcher, make_tracker("", slots={"status_lookup": "MJ5R8W2K"}), domain
    )
    assert responses(dispatcher) == [
        "utter_orders_for_serial",
        "utter_status",
        "utter_orders_hidden",
    ]
    assert dispatcher.messages[0]["count"] == 1
    assert dispatcher.messages[1]["work_order_id"] == mine
    assert dispatcher.messages[2]["count"] == 1
    assert DEMO_ORDER not in _rendered(domain, dispatcher)
    # In the form, the hidden one is asked for; "不用了" shows only the customer's own.
    lookup = {"status_lookup": "MJ5R8W2K"}
    events = await ValidateStatusForm().run(
        CollectingDispatcher(),
        make_tracker(
            "MJ5R8W2K", "inform", slots={"requested_slot": "status_lookup"},
            extracted=lookup, active_loop="status_form",
        ),
        domain,
    )  # fmt: skip
    assert SlotSet("phone_proof", None) in events
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "", slots={**lookup, "requested_slot": "phone_proof"}, active_loop="status_form"
    )
    await ActionAskPhoneProof().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_ask_phone_proof_serial"]
    assert dispatcher.messages[0]["count"] == 1
    events, _ = await _answer(ValidateStatusForm(), "不用了", domain, lookup, intent="deny")
    assert SlotSet("phone_proof", "skipped") in events
    # The digits of the other order: it is proven and listed too.
    events, _ = await _answer(ValidateStatusForm(), f"后四位 {DEMO_TAIL}", domain, lookup)
    assert SlotSet("proven_orders", [DEMO_ORDER]) in events
    dispatcher = CollectingDispatcher()
    await ActionCheckStatus().run(
        dispatcher, make_tracker("", slots={**lookup, "proven_orders": [DEMO_ORDER]}), domain
    )
    assert responses(dispatcher) == ["utter_orders_for_serial", "utter_status", "utter_status"]


async def test_status_by_serial_of_a_stranger_shows_nothing(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionCheckStatus().run(
        dispatcher, make_tracker("", slots={"status_lookup": "MJ5R8W2K"}), domain
    )
    assert responses(dispatcher) == ["utter_orders_hidden_all"]
    assert DEMO_ORDER not in _rendered(domain, dispatcher)


async def test_a_lookup_by_phone_needs_the_whole_number(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    mine = await _book(service, None, phone="13512345678")
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "用手机号查一下维修进度", "check_repair_status", active_loop="status_form"
    )
    events = await ValidateStatusForm().run(dispatcher, tracker, domain)
    assert SlotSet("status_lookup", "by_phone") in events
    assert SlotSet("phone_proof", None) in events
    dispatcher = CollectingDispatcher()
    await ActionAskPhoneProof().run(
        dispatcher,
        make_tracker(
            "", slots={"status_lookup": "by_phone", "requested_slot": "phone_proof"},
            active_loop="status_form",
        ),
        domain,
    )  # fmt: skip
    assert responses(dispatcher) == ["utter_ask_phone_full"]
    by_phone = {"status_lookup": "by_phone"}
    _, dispatcher = await _answer(ValidateStatusForm(), "尾号5678", domain, by_phone)
    assert responses(dispatcher) == ["utter_proof_full_number"]
    events, dispatcher = await _answer(ValidateStatusForm(), "135 1234 5678", domain, by_phone)
    assert SlotSet("proven_orders", [mine]) in events
    dispatcher = CollectingDispatcher()
    await ActionCheckStatus().run(
        dispatcher, make_tracker("", slots={**by_phone, "proven_orders": [mine]}), domain
    )
    assert responses(dispatcher) == ["utter_orders_for_phone", "utter_status"]
    assert "135****5678" in _rendered(domain, dispatcher)


async def test_a_phone_given_with_the_question_is_looked_up_at_once(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    mine = await _book(service, None, phone="13512345678")
    tracker = make_tracker(
        "查工单，手机号13512345678",
        "check_repair_status",
        entities=[{"entity": "phone", "value": "13512345678"}],
        active_loop="status_form",
    )
    events = await ValidateStatusForm().run(CollectingDispatcher(), tracker, domain)
    assert SlotSet("proven_orders", [mine]) in events
    assert SlotSet("phone_proof", "passed") in events


async def test_three_numbers_without_orders_end_the_lookups_by_phone(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    by_phone: dict[str, Any] = {"status_lookup": "by_phone"}
    for n, number in enumerate(("13500000001", "13500000002", "13500000003"), start=1):
        events, dispatcher = await _answer(ValidateStatusForm(), number, domain, by_phone)
        assert SlotSet("phone_lookup_failures", float(n)) in events
        by_phone["phone_lookup_failures"] = float(n)
    assert responses(dispatcher) == ["utter_phone_lookup_refused"]
    assert SlotSet("phone_proof", "refused") in events
    # And later in the same conversation, no more numbers are tried.
    _, dispatcher = await _answer(ValidateStatusForm(), "13512345678", domain, by_phone)
    assert responses(dispatcher) == ["utter_phone_lookup_refused"]


# --- masking in what the bot says -----------------------------------------------------------


async def test_the_booking_confirmation_masks_the_customers_phone_and_address(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    slots = {
        "repair_kind": "on_site",
        "serial_number": "CX9A5D4E",
        "device_model": "MC3025",
        "fault": "卡纸",
        "city": "北京",
        "station_code": "BJ02",
        "booking_slot": "2026-11-21T10:30",
        "phone": "13800138000",
        "address": "朝阳区建国路88号SOHO现代城A座1203室",
        "booking_confirmed": True,
    }
    dispatcher = CollectingDispatcher()
    await ActionBookRepair().run(dispatcher, make_tracker("确认", "affirm", slots=slots), domain)
    assert responses(dispatcher) == ["utter_booking_done"]
    shown = _rendered(domain, dispatcher)
    assert "联系电话：138****8000，上门地址：朝阳区建国路**。" in shown
    assert "13800138000" not in shown and "1203" not in shown
    # The station's phone and address are public: in full.
    station = await service.station("BJ02")
    assert station.phone in shown and station.address in shown


def test_digits_are_read_as_customers_give_them() -> None:
    said = {
        "8000": "8000",
        "尾号8000": "8000",
        "后四位是 8000": "8000",
        "后4位：8000": "8000",
        "手机尾号是八零零零": "8000",
        "１３８００１３８０００": "13800138000",
        "+86 138-0013-8000": "13800138000",
        "138 0013 8000": "13800138000",
        "0755-26881234": "075526881234",
    }
    assert {s: read_proof(s) for s in said} == said
    for nothing in ("不记得了", "800", "80000", "我是本人"):
        assert read_proof(nothing) is None, nothing
