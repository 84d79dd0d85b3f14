"""The 回访 buttons: the customer's answer reaches the backend, and only for their own order."""

from __future__ import annotations

from typing import Any

import aiohttp
from rasa_sdk.executor import CollectingDispatcher

from actions.workorders.followup import ActionFollowupAnswer
from bot.client import ServiceClient
from tests.support.database import API_HEADERS
from tests.support.outbox import SATURDAY, TO_CLOSED
from tests.support.trackers import make_tracker, responses


async def _closed(service: ServiceClient, conversation: str = "customer-1") -> str:
    order = await service.book(
        kind="drop_off",
        model_code="XB14",
        fault="屏幕闪",
        station_code="BJ01",
        slot_date=SATURDAY,
        slot_start="09:00",
        phone="13800138000",
        conversation_id=conversation,
        channel="rest",
    )
    async with aiohttp.ClientSession(headers=API_HEADERS) as http:
        for step in TO_CLOSED:
            async with http.post(
                f"{service.base_url}/api/workorders/{order.id}/transitions",
                json={"to": step, "actor": "station:BJ01"},
            ) as reply:
                assert reply.status == 200, await reply.text()
    return order.id


def pressed(order_id: str, outcome: str, sender: str = "customer-1") -> Any:
    entities = [
        {"entity": "work_order_id", "value": order_id},
        {"entity": "followup_outcome", "value": outcome},
    ]
    return make_tracker("/followup_answer", "followup_answer", entities=entities, sender=sender)


async def test_recurred_reopens_the_order(service: ServiceClient, domain: dict[str, Any]) -> None:
    order_id = await _closed(service)
    dispatcher = CollectingDispatcher()
    await ActionFollowupAnswer().run(dispatcher, pressed(order_id, "recurred"), domain)
    assert responses(dispatcher) == ["utter_followup_reopened"]
    assert (await service.work_order(order_id)).status == "created"
    # A second tap: the 回访 is over.
    dispatcher = CollectingDispatcher()
    await ActionFollowupAnswer().run(dispatcher, pressed(order_id, "recurred"), domain)
    assert responses(dispatcher) == ["utter_followup_closed"]


async def test_solved_and_someone_elses_order(
    service: ServiceClient, domain: dict[str, Any]
) -> None:
    order_id = await _closed(service)
    dispatcher = CollectingDispatcher()
    await ActionFollowupAnswer().run(dispatcher, pressed(order_id, "solved", "stranger"), domain)
    assert responses(dispatcher) == ["utter_proof_needed"]
    dispatcher = CollectingDispatcher()
    await ActionFollowupAnswer().run(dispatcher, pressed(order_id, "solved"), domain)
    assert responses(dispatcher) == ["utter_followup_solved"]
    assert (await service.work_order(order_id)).status == "closed"
