"""Stations and dealers by city, service and distance; slot availability."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.stations import open_weekdays
from tests.support.api import call, error_code


@pytest.mark.parametrize("city", ["北京", "北京市", " 北京 "])
async def test_stations_by_city(api: TestClient, city: str) -> None:
    body = await call(api, "GET", "/api/stations", 200, params={"city": city})
    assert {s["city"] for s in body} == {"北京"}
    assert len(body) == 2


async def test_traditional_city_names(api: TestClient) -> None:
    body = await call(api, "GET", "/api/stations", 200, params={"city": "廣州"})
    assert body and {s["city"] for s in body} == {"广州"}


async def test_service_stations_and_dealers(api: TestClient) -> None:
    service = await call(api, "GET", "/api/stations", 200, params={"kind": "service", "limit": 100})
    dealers = await call(api, "GET", "/api/stations", 200, params={"kind": "dealer", "limit": 100})
    assert all(s["kind"] in ("service", "both") for s in service)
    assert all(s["kind"] in ("dealer", "both") for s in dealers)
    assert len(service) + len(dealers) >= 40
    cities = await call(api, "GET", "/api/stations/cities", 200)
    assert len(cities) == 20


async def test_nearest_stations_to_a_location(api: TestClient) -> None:
    # Shenzhen's Huaqiangbei.
    body = await call(
        api, "GET", "/api/stations", 200, params={"near": "22.5431,114.0880", "limit": 3}
    )
    assert body[0]["city"] == "深圳"
    assert body[0]["distance_km"] < 20
    assert [s["distance_km"] for s in body] == sorted(s["distance_km"] for s in body)


async def test_unknown_city_is_an_empty_list(api: TestClient) -> None:
    assert await call(api, "GET", "/api/stations", 200, params={"city": "拉萨"}) == []


@pytest.mark.parametrize(
    "params", [{"near": "north"}, {"limit": "0"}, {"kind": "shop"}, {"colour": "red"}]
)
async def test_bad_station_queries(api: TestClient, params: dict[str, Any]) -> None:
    assert await error_code(api, "GET", "/api/stations", 422, params=params) == "invalid_query"


async def test_slots_skip_closed_days_and_past_times(api: TestClient) -> None:
    station = await call(api, "GET", "/api/stations/BJ01", 200)
    assert station["open_weekdays"] == [0, 1, 2, 3, 4, 5]
    slots = await call(api, "GET", "/api/stations/BJ01/slots", 200, params={"days": 7})
    days = {s["date"] for s in slots}
    assert "2026-11-22" not in days  # a Sunday
    # It is 10:00 on the 20th with a one-hour lead: the 09:00 and 10:30 slots are gone.
    assert [s["start"] for s in slots if s["date"] == "2026-11-20"] == ["13:30", "15:30"]
    assert all(s["free"] == s["capacity"] - s["booked"] for s in slots)


async def test_dealers_have_no_slots(api: TestClient) -> None:
    dealers = await call(
        api, "GET", "/api/stations", 200, params={"kind": "dealer", "city": "杭州"}
    )
    dealer = next(s for s in dealers if s["kind"] == "dealer")
    assert (
        await error_code(api, "GET", f"/api/stations/{dealer['code']}/slots", 409) == "no_repairs"
    )
    assert await error_code(api, "GET", "/api/stations/XX99", 404) == "station_not_found"


@pytest.mark.parametrize(
    ("hours", "days"),
    [
        ("周一至周五 09:00-18:00，周六 10:00-17:00", [0, 1, 2, 3, 4, 5]),
        ("周一至周五 08:30-17:30", [0, 1, 2, 3, 4]),
        ("周一至周日 09:00-18:00", [0, 1, 2, 3, 4, 5, 6]),
        ("每天 09:00-21:00", [0, 1, 2, 3, 4, 5, 6]),
    ],
)
def test_opening_days_from_hours(hours: str, days: list[int]) -> None:
    assert open_weekdays(hours) == days
