"""Corrections at the booking's summary change the field named, and the summary comes again."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.workorders.booking import ValidateBookingForm
from actions.workorders.slots import choose_slot
from bot.client import ServiceClient
from tests.support.trackers import make_tracker, responses, user_event

SUMMARY = {
    "repair_kind": "on_site",
    "serial_number": "MJ5R8W2K",
    "device_model": "DT720",
    "fault": "开机没反应",
    "city": "北京",
    "station_code": "BJ01",
    "booking_slot": "2026-11-21T09:00",
    "phone": "13800138000",
    "address": "北京市朝阳区建国路88号",
    "requested_slot": "booking_confirmed",
}


async def at_summary(
    text: str, intent: str, value: Any, domain: dict[str, Any]
) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text,
        intent,
        slots=SUMMARY,
        extracted={"booking_confirmed": value},
        active_loop="booking_form",
    )
    return await ValidateBookingForm().run(dispatcher, tracker, domain), dispatcher


async def test_a_new_time_at_the_summary_books_that_time_not_a_drop(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    # Read as a "no" by the NLU: the words say which field is wrong and what it should be.
    events, _ = await at_summary("时间不对 我要明天三点半以后的", "deny", False, domain)
    assert SlotSet("booking_confirmed", None) in events
    chosen = next(e["value"] for e in events if e["name"] == "booking_slot")
    assert chosen.startswith("2026-11-21T") and chosen[-5:] >= "15:30"


async def test_changing_the_kind_at_the_summary_asks_for_a_station_again(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    events, _ = await at_summary("不用上门了 我自己送过去", "inform", "不用上门了", domain)
    assert SlotSet("repair_kind", "drop_off") in events
    assert SlotSet("station_code", None) in events
    assert SlotSet("booking_confirmed", None) in events


async def test_a_wrong_phone_at_the_summary_is_asked_again_or_taken_from_the_words(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    events, _ = await at_summary("电话写错了", "inform", "电话写错了", domain)
    assert SlotSet("phone", None) in events and SlotSet("booking_confirmed", None) in events
    events, _ = await at_summary("手机号是 139 1234 5678", "inform", "手机号", domain)
    assert SlotSet("phone", "13912345678") in events


async def test_a_plain_yes_or_no_at_the_summary_stays_one(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    events, _ = await at_summary("确认", "affirm", True, domain)
    assert SlotSet("booking_confirmed", True) in events
    events, _ = await at_summary("不提交了", "deny", False, domain)
    assert SlotSet("booking_confirmed", False) in events
    events, dispatcher = await at_summary("嗯……这个嘛", "inform", "嗯……这个嘛", domain)
    assert SlotSet("booking_confirmed", None) in events
    assert responses(dispatcher) == ["utter_booking_what_to_change"]


async def test_the_clock_time_counts_even_when_the_slot_holds_only_the_day_part(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    # The time entity is "下周一下午"; the customer said "下周一下午三点半".
    dispatcher = CollectingDispatcher()
    chosen = await choose_slot(
        "下周一下午", "BJ01", dispatcher, make_tracker("下周一下午三点半", "inform")
    )
    assert chosen == {"booking_slot": "2026-11-23T15:30"}


async def test_a_time_without_a_day_takes_the_day_said_just_before(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "上午十点半", "inform", history=[user_event("单子能挪到下周一吗", "reschedule_booking")]
    )
    chosen = await choose_slot("上午十点半", "BJ01", CollectingDispatcher(), tracker)
    assert chosen == {"booking_slot": "2026-11-23T10:30"}
