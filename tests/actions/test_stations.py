"""Locator actions: service stations or dealers in a city, and cities without any."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions.stations import ActionFindStations
from bot.client import ServiceClient
from tests.actions.conftest import make_tracker, responses, user_event


async def test_service_stations_in_a_city(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "深圳",
        "inform",
        slots={"city": "深圳"},
        history=[user_event("附近哪里能修电脑", "find_service_center")],
    )
    assert await ActionFindStations().run(dispatcher, tracker, domain) == []
    assert responses(dispatcher)[0] == "utter_stations_found"
    cards = dispatcher.messages[1:]
    assert cards and all(m["response"] == "utter_station_card" for m in cards)
    assert all("深圳" in m["address"] for m in cards)
    assert "送修" in cards[0]["services"]


async def test_dealers_when_asked_for_dealers(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "杭州",
        "inform",
        slots={"city": "杭州"},
        history=[user_event("哪里能买到正品硒鼓", "find_dealer")],
    )
    await ActionFindStations().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["kind"] == "授权耗材经销商"
    assert "耗材销售" in dispatcher.messages[1]["services"]


async def test_a_city_without_stations(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker(
        "拉萨",
        "inform",
        slots={"city": "拉萨"},
        history=[user_event("拉萨有维修点吗", "find_service_center")],
    )
    await ActionFindStations().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_no_locations_in_city"]
    assert "北京" in dispatcher.messages[0]["cities"]
