"""Work-order actions: booking form validation, booking, reschedule, cancel, status, rating."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import common
from actions.workorders.booking import (
    ActionAskStationCode,
    ActionBookRepair,
    ValidateBookingForm,
)
from actions.workorders.changes import (
    ActionAskCancelConfirmed,
    ActionCancelBooking,
    ActionReschedule,
)
from actions.workorders.slots import ActionAskBookingSlot
from actions.workorders.status import (
    ActionCheckStatus,
    ActionRate,
    ValidateRateForm,
    ValidateStatusForm,
    read_score,
)
from bot.client import ServiceClient
from tests.support.database import API_TOKEN, NOW
from tests.support.trackers import make_tracker, responses

TOMORROW = NOW.date() + timedelta(days=1)

READY = {
    "repair_kind": "drop_off",
    "serial_number": "MJ5R8W2K",
    "device_model": "DT720",
    "device_category": "desktop",
    "fault": "开机没反应",
    "city": "北京",
    "station_code": "BJ01",
    "booking_slot": "2026-11-21T09:00",
    "phone": "13800138000",
    "booking_confirmed": True,
    "steps_tried": ["换了插座"],
}


async def validate(
    extracted: dict[str, Any],
    domain: dict[str, Any],
    slots: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "inform",
) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    requested = next(iter(extracted))
    tracker = make_tracker(
        text or str(extracted[requested]),
        intent,
        slots={**(slots or {}), "requested_slot": requested},
        extracted=extracted,
        active_loop="booking_form",
    )
    return await ValidateBookingForm().run(dispatcher, tracker, domain), dispatcher


async def test_a_city_with_one_suitable_station_picks_it(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    slots = {"repair_kind": "on_site", "device_category": "copier"}
    events, _ = await validate({"city": "北京市"}, domain, slots)
    assert SlotSet("city", "北京") in events
    assert (
        SlotSet("station_code", "BJ02") in events
    )  # the only Beijing station doing copiers on site


async def test_a_city_without_stations_is_asked_again(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    events, dispatcher = await validate({"city": "拉萨"}, domain, {"repair_kind": "drop_off"})
    assert SlotSet("city", None) in events
    assert responses(dispatcher) == ["utter_no_station_in_city"]
    assert "北京" in dispatcher.messages[0]["cities"]


async def test_time_words_choose_a_free_slot(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    events, _ = await validate({"booking_slot": "明天下午"}, domain, {"station_code": "BJ01"})
    assert SlotSet("booking_slot", "2026-11-21T13:30") in events
    events, dispatcher = await validate({"booking_slot": "后天"}, domain, {"station_code": "BJ01"})
    assert SlotSet("booking_slot", None) in events  # Sunday: BJ01 is closed
    assert responses(dispatcher) == ["utter_no_free_slot"]
    events, dispatcher = await validate(
        {"booking_slot": "随便吧哈哈"}, domain, {"station_code": "BJ01"}
    )
    assert responses(dispatcher) == ["utter_slot_not_understood"]


async def test_phone_and_serial_are_checked(service: ServiceClient, domain: dict[str, Any]) -> None:
    events, dispatcher = await validate({"phone": "12345"}, domain)
    assert SlotSet("phone", None) in events
    assert responses(dispatcher) == ["utter_phone_invalid"]
    events, _ = await validate({"phone": "138 0013 8000"}, domain)
    assert SlotSet("phone", "13800138000") in events
    events, _ = await validate({"serial_number": "none"}, domain, text="没有", intent="deny")
    assert SlotSet("serial_number", "none") in events


async def test_address_is_only_asked_for_on_site_visits(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("", slots={"repair_kind": "drop_off"}, active_loop="booking_form")
    slots = await ValidateBookingForm().required_slots(
        ["repair_kind", "city", "address", "booking_confirmed"],
        CollectingDispatcher(),
        tracker,
        domain,
    )
    assert slots == ["repair_kind", "city", "booking_confirmed"]


async def test_stations_and_slots_are_offered_as_buttons(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "", slots={"city": "深圳", "repair_kind": "drop_off", "device_category": "laptop"}
    )
    await ActionAskStationCode().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_ask_station_code"]
    assert all(
        b["payload"].startswith('/inform{"station_code": "SZ')
        for b in dispatcher.messages[0]["buttons"]
    )
    dispatcher = CollectingDispatcher()
    await ActionAskBookingSlot().run(
        dispatcher, make_tracker("", slots={"station_code": "BJ01"}), domain
    )
    buttons = dispatcher.messages[0]["buttons"]
    assert buttons[0]["payload"] == '/inform{"booking_slot": "2026-11-20T13:30"}'
    # The clock stands on Friday 2026-11-20: the first free slot is this afternoon.
    assert buttons[0]["title"] == "今天 11月20日 周五 13:30-15:30"
    assert len(buttons) == 6


async def test_a_booking_comes_with_its_confirmation_card(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionBookRepair().run(
        dispatcher, make_tracker("确认提交", "affirm", slots=READY), domain
    )
    (done,) = dispatcher.messages
    assert done["response"] == "utter_booking_done"
    assert done["slot"] == "明天 11月21日 周六 09:00-10:30"
    card = done["custom"]
    assert card["card"] == "booking" and card["work_order_id"] == done["work_order_id"]
    assert card["slot"] == done["slot"] and card["kind"] == done["kind"]
    # The calendar entry's times carry the service's zone.
    assert (card["starts_at"], card["ends_at"]) == (
        "2026-11-21T09:00:00+08:00",
        "2026-11-21T10:30:00+08:00",
    )
    assert card["station"]["phone"] == done["phone"]
    assert card["station"]["map"].startswith("https://uri.amap.com/search?keyword=")
    assert card["labels"]["call"] == f"拨打 {done['phone']}"
    assert done["work_order_id"] in card["labels"]["event"]


async def test_a_confirmed_booking_creates_one_work_order(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("确认提交", "affirm", slots=READY)
    events = await ActionBookRepair().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_booking_done"]
    order_id = dispatcher.messages[0]["work_order_id"]
    assert events == [
        SlotSet("repair_kind", None),
        SlotSet("station_code", None),
        SlotSet("booking_slot", None),
        SlotSet("address", None),
        SlotSet("booking_confirmed", None),
        SlotSet("work_order_id", order_id),
    ]
    order = await service.work_order(order_id)
    assert (order.serial, order.steps_tried, order.channel) == ("MJ5R8W2K", ["换了插座"], "rest")
    # Rasa retries the same turn: still one work order.
    await ActionBookRepair().run(CollectingDispatcher(), tracker, domain)
    assert len(await service.work_orders(serial="MJ5R8W2K")) == 2  # this one and the demo's


async def test_a_slot_taken_meanwhile_asks_for_another(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    slot = next(
        s
        for s in await service.slots("BJ01")
        if s.date.isoformat() == "2026-11-21" and s.start == "09:00"
    )
    for n in range(slot.capacity):
        await service.book(
            kind="drop_off",
            model_code="XB14",
            fault="x",
            station_code="BJ01",
            slot_date=slot.date,
            slot_start="09:00",
            phone=f"1380013{n:04d}",
        )
    dispatcher = CollectingDispatcher()
    events = await ActionBookRepair().run(
        dispatcher, make_tracker("确认", "affirm", slots=READY), domain
    )
    assert responses(dispatcher) == ["utter_slot_taken"]
    assert events == [
        SlotSet("booking_slot", None),
        SlotSet("booking_confirmed", None),
        FollowupAction("booking_form"),
    ]


async def test_a_declined_booking_is_dropped(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionBookRepair().run(
        dispatcher,
        make_tracker("先不", "deny", slots={**READY, "booking_confirmed": False}),
        domain,
    )
    assert responses(dispatcher) == ["utter_booking_dropped"]


async def _booked(service: ServiceClient, conversation: str | None = "customer-1") -> str:
    """An order booked in the conversation of `make_tracker` (None: booked elsewhere)."""
    order = await service.book(
        kind="drop_off",
        serial="PF2K7Q9A",
        fault="屏幕闪",
        station_code="BJ01",
        slot_date=TOMORROW,
        slot_start="09:00",
        phone="13800138000",
        conversation_id=conversation,
        channel="rest" if conversation else None,
    )
    return order.id


async def test_reschedule_and_cancel(service: ServiceClient, domain: dict[str, Any]) -> None:
    order_id = await _booked(service)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "改到周一下午",
        "inform",
        slots={"work_order_id": order_id, "booking_slot": "2026-11-23T13:30"},
    )
    assert await ActionReschedule().run(dispatcher, tracker, domain) == [
        SlotSet("booking_slot", None),
        SlotSet("phone_proof", None),
    ]
    assert responses(dispatcher) == ["utter_reschedule_done"]
    assert (await service.work_order(order_id)).slot_date.isoformat() == "2026-11-23"  # type: ignore[union-attr]
    dispatcher = CollectingDispatcher()
    await ActionAskCancelConfirmed().run(
        dispatcher, make_tracker("", slots={"work_order_id": order_id}), domain
    )
    assert responses(dispatcher) == ["utter_ask_cancel_confirmed"]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "确定", "affirm", slots={"work_order_id": order_id, "cancel_confirmed": True}
    )
    assert await ActionCancelBooking().run(dispatcher, tracker, domain) == [
        SlotSet("cancel_confirmed", None),
        SlotSet("phone_proof", None),
    ]
    assert responses(dispatcher) == ["utter_cancel_done"]
    assert (await service.work_order(order_id)).status == "cancelled"


async def test_status_by_work_order_and_by_serial(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    order_id = await _booked(service)
    dispatcher = CollectingDispatcher()
    await ActionCheckStatus().run(
        dispatcher, make_tracker("", slots={"status_lookup": order_id}), domain
    )
    assert responses(dispatcher) == ["utter_status"]
    assert dispatcher.messages[0]["status"] == "已预约"
    dispatcher = CollectingDispatcher()
    await ActionCheckStatus().run(
        dispatcher, make_tracker("", slots={"serial_number": "PF2K7Q9A"}), domain
    )
    assert responses(dispatcher) == ["utter_orders_for_serial", "utter_status"]
    dispatcher = CollectingDispatcher()
    await ActionCheckStatus().run(
        dispatcher, make_tracker("", slots={"status_lookup": "PF8M3X6T"}), domain
    )
    assert responses(dispatcher) == ["utter_no_orders_for_serial"]


async def test_status_is_not_asked_when_already_known(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    order_id = await _booked(service)
    tracker = make_tracker(
        "修好了没",
        "check_repair_status",
        slots={"work_order_id": order_id},
        active_loop="status_form",
    )
    events = await ValidateStatusForm().run(CollectingDispatcher(), tracker, domain)
    # The order of this conversation: looked up at once, no phone check.
    assert events == [SlotSet("status_lookup", order_id), SlotSet("phone_proof", "own")]


async def test_rating_a_closed_repair(service: ServiceClient, domain: dict[str, Any]) -> None:
    closed = "WO20261110-0001"  # the demo copier repair, closed and not rated
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        closed,
        "rate_service",
        slots={"requested_slot": "work_order_id"},
        extracted={"work_order_id": closed},
        active_loop="rate_form",
    )
    # Booked in another conversation: the phone on it first.
    assert await ValidateRateForm().run(dispatcher, tracker, domain) == [
        SlotSet("work_order_id", closed),
        SlotSet("phone_proof", None),
    ]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "尾号5524",
        "inform",
        slots={"requested_slot": "phone_proof", "work_order_id": closed},
        extracted={"phone_proof": "尾号5524"},
        active_loop="rate_form",
    )
    assert await ValidateRateForm().run(dispatcher, tracker, domain) == [
        SlotSet("phone_proof", "passed"),
        SlotSet("proven_orders", [closed]),
    ]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "一般般，等太久了",
        "inform",
        slots={
            "work_order_id": closed,
            "score": "2",
            "rating_comment": "等太久了",
            "proven_orders": [closed],
        },
    )
    # The action server is no staff member: it runs with the internal token alone.
    assistant = ServiceClient(service.base_url, token=API_TOKEN, timeout=10)
    common.use_client(assistant)
    try:
        await ActionRate().run(dispatcher, tracker, domain)
    finally:
        await assistant.close()
        common.use_client(service)
    assert responses(dispatcher) == ["utter_rating_done", "utter_rating_low"]
    assert (await service.work_order(closed)).rating == 2
    follow_up = [c for c in await service.complaints(status="open") if c.work_order_id == closed]
    assert follow_up and follow_up[0].severity == "medium"
    # The customer hears the complaint's number and by when someone answers (24 h).
    told = dispatcher.messages[-1]
    assert (told["complaint_id"], told["due_day"], told["due_time"]) == (
        follow_up[0].id,
        21,
        "10:00",
    )


async def test_an_open_order_cannot_be_rated(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    order_id = await _booked(service)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        order_id,
        "rate_service",
        slots={"requested_slot": "work_order_id"},
        extracted={"work_order_id": order_id},
        active_loop="rate_form",
    )
    events = await ValidateRateForm().run(dispatcher, tracker, domain)
    # Told why, and asked for another order ("算了" leaves the form).
    assert SlotSet("work_order_id", None) in events
    assert responses(dispatcher) == ["utter_rating_refused"]


def test_scores_are_read_from_what_customers_write() -> None:
    said = [
        "5",
        "５",
        "五星",
        "给4分吧",
        "3 分",
        "很满意",
        "不太满意",
        "非常不满意",
        "还行",
        "满分",
    ]
    assert [read_score(s) for s in said] == [5, 5, 5, 4, 3, 5, 2, 1, 3, 5]
    assert read_score("修了三次还没好") is None
    assert read_score("6") is None
