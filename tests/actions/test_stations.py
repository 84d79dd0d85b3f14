"""Locator actions: service stations or dealers in a city, and cities without any."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.stations import NEARBY_KM, ActionFindStations, ActionStationsNearby, parse_location
from bot.client import ServiceClient
from tests.support.trackers import make_tracker, responses, user_event


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
    # Each station's card: the same facts as data, a call link's number and a map link.
    for message in cards:
        card = message["custom"]
        assert card["card"] == "station" and card["name"] == message["name"]
        assert (card["phone"], card["services"]) == (message["phone"], message["services"])
        assert card["map"].startswith("https://uri.amap.com/marker?position=")


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


def shared(location: str, history: list[dict[str, Any]] | None = None) -> Tracker:
    """The message Telegram's location becomes: /share_location{"location": "lat,lon"}."""
    return make_tracker(
        f'/share_location{{"location": "{location}"}}',
        "share_location",
        entities=[{"entity": "location", "value": location}],
        slots={"location": location},
        history=history,
    )


async def test_a_shared_location_gets_the_nearest_service_stations(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    assert await ActionStationsNearby().run(dispatcher, shared("22.5431,114.0579"), domain) == []
    assert responses(dispatcher) == ["utter_stations_nearby"] + ["utter_station_card_distance"] * 3
    assert dispatcher.messages[0]["kind"] == "授权维修服务站"
    cards = dispatcher.messages[1:]
    assert "深圳" in cards[0]["address"]
    assert [c["distance"] for c in cards] == sorted(c["distance"] for c in cards)
    assert cards[0]["distance"] < 10


async def test_nearest_dealers_when_the_customer_asked_for_dealers(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    history = [user_event("哪里能买到正品硒鼓", "find_dealer")]
    await ActionStationsNearby().run(dispatcher, shared("30.2741,120.1551", history), domain)
    assert dispatcher.messages[0]["kind"] == "授权耗材经销商"
    assert "耗材销售" in dispatcher.messages[1]["services"]


async def test_a_location_far_from_every_station_says_so(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    # Lhasa: the nearest station is more than 100 km away.
    await ActionStationsNearby().run(dispatcher, shared("29.6525,91.1721"), domain)
    assert responses(dispatcher)[0] == "utter_stations_far"
    assert dispatcher.messages[0]["radius"] == NEARBY_KM
    assert dispatcher.messages[1]["distance"] > NEARBY_KM


@pytest.mark.parametrize("location", [None, "", "上海", "31.2", "91.0,121.4", "31.2,181.0"])
async def test_no_usable_location_asks_for_one(
    service: ServiceClient,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
    location: str | None,
) -> None:
    tracker = (
        make_tracker("发个定位给你", "share_location") if location is None else shared(location)
    )
    assert await ActionStationsNearby().run(dispatcher, tracker, domain) == []
    assert responses(dispatcher) == ["utter_ask_location"]


async def test_a_location_while_the_backend_is_down(
    backend_down: None, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    await ActionStationsNearby().run(dispatcher, shared("31.2304,121.4737"), domain)
    assert responses(dispatcher) == ["utter_backend_down"]
    assert dispatcher.messages[0]["retry"] == "/find_service_center"


def test_parse_location() -> None:
    assert parse_location("31.2304,121.4737") == (31.2304, 121.4737)
    assert parse_location(" -33.9 , 18.4 ") == (-33.9, 18.4)
    assert parse_location("31.2304;121.4737") is None
    assert parse_location(None) is None
