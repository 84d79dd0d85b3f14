"""Dispatch: a booking not accepted in time is flagged to supervisors, on-site orders carry a
response promise by city tier that turns amber and red, and every station's load; with the
service's clock frozen at chosen moments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.settings import Settings
from bot.station.dispatch import opening_hours, response_sla, working_seconds
from tests.support.api import call
from tests.support.database import API_HEADERS, NOW, TZ, add_staff_user
from tests.support.portals import ClientAt, add_people, as_staff, session

SATURDAY = date(2026, 11, 21)
BJ01_HOURS = "周一至周六 09:00-18:00"


@pytest.fixture
async def client_at(
    aiohttp_client: Callable[..., Any], settings: Settings, clock: Clock, db: Database
) -> ClientAt:
    """The backend on one database, with its clock frozen at a chosen moment."""
    await add_staff_user(db)
    await add_people(db, clock)

    async def make(at: Clock, changed: Settings = settings, /) -> TestClient:
        made: TestClient = await aiohttp_client(
            create_app(changed, at), cookie_jar=aiohttp.DummyCookieJar()
        )
        return made

    return make


def at(minutes: float) -> Clock:
    return Clock(TZ, fixed=NOW + timedelta(minutes=minutes))


async def book(client: TestClient, **changes: Any) -> str:
    body = {
        "kind": "drop_off",
        "model_code": "XB14",
        "fault": "开机无显示",
        "station_code": "BJ01",
        "slot_date": SATURDAY.isoformat(),
        "slot_start": "09:00",
        "phone": "13800138000",
    } | changes
    order = await call(client, "POST", "/api/workorders", 201, json=body, headers=API_HEADERS)
    return str(order["id"])


async def flagged(client: TestClient) -> dict[str, list[str]]:
    boss = await session(client, "wang")
    rows = await as_staff(client, boss, "GET", "/desk/api/stations/flagged", 200)
    return {r["id"]: r["reasons"] for r in rows}


def test_working_time_counts_the_station_s_opening_hours_only() -> None:
    friday_5pm = datetime(2026, 11, 20, 17, 0, tzinfo=TZ)
    assert working_seconds(friday_5pm, friday_5pm + timedelta(hours=17), BJ01_HOURS, TZ) == 7200
    # Saturday 17:30 to Monday 09:30: Sunday is closed.
    saturday = datetime(2026, 11, 21, 17, 30, tzinfo=TZ)
    assert working_seconds(saturday, saturday + timedelta(hours=40), BJ01_HOURS, TZ) == 3600
    assert working_seconds(saturday, saturday - timedelta(hours=1), BJ01_HOURS, TZ) == 0
    # Hours the text does not give: every day, 09:00-18:00.
    assert opening_hours("预约制") == opening_hours(BJ01_HOURS)
    assert opening_hours("周一至周日 08:30-20:00")[0].strftime("%H:%M") == "08:30"


@pytest.mark.parametrize(
    ("city", "tier", "hours"), [("北京", 1, 24), ("杭州", 2, 48), ("沈阳", 3, 72)]
)
def test_the_on_site_promise_by_city_tier_and_its_colours(
    settings: Settings, city: str, tier: int, hours: int
) -> None:
    clock = Clock(TZ, fixed=NOW)

    def sla(after: float, responded: float | None = None, slot: Any = None) -> Any:
        return response_sla(
            kind="on_site",
            city=city,
            booked_at=NOW,
            slot=slot,
            responded_at=NOW + timedelta(hours=responded) if responded is not None else None,
            now=NOW + timedelta(hours=after),
            clock=clock,
            settings=settings,
        )

    assert (sla(0).tier, sla(0).promised_hours) == (tier, hours)
    assert sla(0).due == NOW + timedelta(hours=hours)
    assert [sla(hours * f).state for f in (0.5, 0.74, 0.75, 0.99, 1.0, 3)] == [
        "green",
        "green",
        "amber",
        "amber",
        "red",
        "red",
    ]
    assert sla(hours * 2, responded=hours * 0.9).state == "met"
    assert sla(hours * 2, responded=hours * 1.1).state == "missed"
    # A customer who books a later slot has asked to wait: the promise runs to its end.
    late_slot = (date(2026, 11, 30), "15:30")
    assert sla(0, slot=late_slot).due == datetime(2026, 11, 30, 17, 30, tzinfo=TZ)
    assert (
        response_sla(
            kind="drop_off",
            city=city,
            booked_at=NOW,
            slot=None,
            responded_at=None,
            now=NOW,
            clock=clock,
            settings=settings,
        )
        is None
    )


def test_the_promise_and_the_tiers_are_settings() -> None:
    env = {"BOT_DATABASE_URL": "sqlite://", "BOT_ONSITE_RESPONSE_HOURS": "12,24,36"}
    assert Settings.from_env(env).onsite_response_hours == (12, 24, 36)
    changed = Settings.from_env(
        env | {"BOT_CITY_TIERS": "沈阳|", "BOT_STATION_ACCEPT_MINUTES": "30"}
    )
    assert changed.city_tiers == (("沈阳",), ()) and changed.station_accept_minutes == 30
    for name, bad in (
        ("BOT_ONSITE_RESPONSE_HOURS", "24,48"),
        ("BOT_ONSITE_RESPONSE_HOURS", "24,0,72"),
        ("BOT_CITY_TIERS", "北京,上海"),
        ("BOT_STATION_ACCEPT_MINUTES", "0"),
    ):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({"BOT_DATABASE_URL": "sqlite://", name: bad})


async def test_a_booking_not_accepted_in_time_is_flagged_to_supervisors(
    client_at: ClientAt, settings: Settings
) -> None:
    order = await book(await client_at(at(0)))
    assert order not in await flagged(await client_at(at(119)))
    later = await client_at(at(121))
    assert (await flagged(later))[order] == ["not_accepted"]
    bj01 = await session(later, "bj01")
    card = next(
        o
        for o in await as_staff(later, bj01, "GET", "/station/api/orders", 200)
        if o["id"] == order
    )
    assert card["late"] is True
    # Agents do not oversee stations.
    agent = await session(later, "zhang")
    body = await as_staff(later, agent, "GET", "/desk/api/stations/flagged", 403)
    assert body["error"]["code"] == "supervisors_only"
    await as_staff(
        later, bj01, "POST", f"/station/api/orders/{order}/steps", 200, json={"to": "accepted"}
    )
    assert order not in await flagged(later)
    # The limit is a setting.
    second = await book(await client_at(at(0)), slot_start="10:30")
    strict = replace(settings, station_accept_minutes=30)
    assert (await flagged(await client_at(at(31), strict)))[second] == ["not_accepted"]
    assert second not in await flagged(await client_at(at(29), strict))


async def test_a_booking_made_after_closing_time_waits_for_the_opening(
    client_at: ClientAt,
) -> None:
    # Friday 17:30: half an hour of Friday, then Saturday from 09:00 (Saturday 08:30 is
    # 15 hours later): 16 hours on the wall clock are one working hour.
    order = await book(await client_at(at(450)), slot_date="2026-11-23")
    assert order not in await flagged(await client_at(at(450 + 15 * 60 + 60)))
    assert order not in await flagged(await client_at(at(450 + 15 * 60 + 119)))
    assert order in await flagged(await client_at(at(450 + 15 * 60 + 121)))


async def test_an_on_site_order_s_timer_turns_amber_then_red(client_at: ClientAt) -> None:
    # Booked Friday 10:00 for Saturday 09:00-10:30 in 北京 (24 h): due Saturday 10:30.
    order = await book(await client_at(at(0)), kind="on_site", address="北京市海淀区学院路30号")
    seen = []
    for hours in (12, 19, 25):
        client = await client_at(at(hours * 60))
        bj01 = await session(client, "bj01")
        if hours == 12:
            # Accepted in time: only the promise is left to watch.
            await as_staff(
                client,
                bj01,
                "POST",
                f"/station/api/orders/{order}/steps",
                200,
                json={"to": "accepted", "engineer": "李工"},
            )
        detail = await as_staff(client, bj01, "GET", f"/station/api/orders/{order}", 200)
        seen.append(detail["sla"]["state"])
        reasons = (await flagged(client)).get(order)
        assert reasons == {12: None, 19: ["sla_amber"], 25: ["sla_red"]}[hours]
    assert seen == ["green", "amber", "red"]
    boss = await session(client, "wang")
    load = await as_staff(client, boss, "GET", "/desk/api/stations/load", 200)
    assert next(s for s in load if s["code"] == "BJ01")["sla_red"] >= 1


async def test_every_station_s_load(client_at: ClientAt) -> None:
    client = await client_at(at(0))
    boss = await session(client, "wang")

    async def loads() -> dict[str, Any]:
        rows = await as_staff(client, boss, "GET", "/desk/api/stations/load", 200)
        return {r["code"]: r for r in rows}

    before = await loads()
    assert before["BJ01"]["capacity_today"] == 24
    # Dealers repair nothing: no load to show.
    assert all(r["capacity_today"] > 0 or r["open_orders"] == 0 for r in before.values())
    today = NOW.date().isoformat()
    ids = [
        await book(client, slot_date=today, slot_start="13:30"),
        await book(client, slot_date=today, slot_start="15:30"),
        await book(client),
    ]
    after = await loads()
    assert after["BJ01"]["open_orders"] == before["BJ01"]["open_orders"] + 3
    assert after["BJ01"]["booked_today"] == before["BJ01"]["booked_today"] + 2
    assert after["SH01"] == before["SH01"]
    oldest = after["BJ01"]["oldest_open_at"]
    assert oldest is not None and datetime.fromisoformat(oldest) <= NOW
    bj01 = await session(client, "bj01")
    await call(
        client,
        "POST",
        f"/api/workorders/{ids[2]}/cancel",
        200,
        json={"reason": "不修了"},
        headers=API_HEADERS,
    )
    await as_staff(
        client, bj01, "POST", f"/station/api/orders/{ids[0]}/steps", 200, json={"to": "accepted"}
    )
    final = await loads()
    assert final["BJ01"]["open_orders"] == before["BJ01"]["open_orders"] + 2
    assert final["BJ01"]["booked_today"] == before["BJ01"]["booked_today"] + 2
