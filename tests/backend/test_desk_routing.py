"""Assignment, teams, transfer with a note, response timers (on a clock the test moves) and the
desk's work-order tools, in-process on a fresh database against a fake Rasa."""

# The desk's logged-in staff are tests/support/desk_staff.py's fixture (tests/backend/conftest.py).

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot import tables
from bot.app import create_app
from bot.clock import Clock
from bot.db import Database
from bot.desk import assign, waiting
from bot.desk.accounts import Staff
from bot.desk.broker import record_event
from bot.desk.sla import Facts, timer
from bot.settings import RoutingSettings, Settings
from tests.support.database import API_HEADERS, NOW
from tests.support.desk_staff import Staffer
from tests.support.fake_rasa import FakeRasa

ROUTING = RoutingSettings(
    auto_assign=True,
    agent_limit=2,
    # The test runs each round itself (assign.assign_waiting): the loop never gets there.
    assign_poll_seconds=3600,
    first_response_seconds=120,
    next_response_seconds=180,
    warn_percent=75,
)


class MovingClock(Clock):
    """A frozen clock the test moves forward."""

    def __init__(self) -> None:
        super().__init__(NOW.tzinfo, fixed=NOW)  # type: ignore[arg-type]
        self.at = NOW

    def now(self) -> datetime:
        return self.at

    def move(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock()


@pytest.fixture
def routing() -> RoutingSettings:
    return ROUTING


@pytest.fixture
async def backend(
    aiohttp_client: Callable[..., Any],
    settings: Settings,
    clock: Clock,
    rasa: FakeRasa,
    routing: RoutingSettings,
) -> TestClient:
    app = create_app(replace(settings, rasa_url=rasa.url, routing=routing), clock)
    client: TestClient = await aiohttp_client(
        app, cookie_jar=aiohttp.DummyCookieJar(), headers=API_HEADERS
    )
    return client


async def hand_off_with(
    backend: TestClient, rasa: FakeRasa, conversation: str, reason: str, **package: Any
) -> str:
    rasa.events[conversation].append({"event": "pause"})
    reply = await backend.post(
        "/api/handoffs",
        json={
            "conversation_id": conversation,
            "channel": "rest",
            "reason": reason,
            "package": package,
        },
    )
    assert reply.status == 201, await reply.text()
    return str((await reply.json())["id"])


def app_of(client: TestClient) -> web.Application:
    assert client.app is not None
    return client.app


async def holders(boss: Staffer) -> dict[str, str | None]:
    items = await boss.ok("GET", "/desk/api/handoffs?scope=live")
    return {i["id"]: i["holder"] for i in items}


# --- settings ------------------------------------------------------------------------------


def test_routing_settings_from_the_environment() -> None:
    default = Settings.from_env({}).routing
    assert (default.auto_assign, default.agent_limit) == (False, 4)
    assert [t.code for t in default.teams] == ["complaints", "printers", "laptops"]
    assert default.teams[0].reasons == ("complaint", "angry")
    routing = Settings.from_env(
        {
            "BOT_DESK_AUTO_ASSIGN": "on",
            "BOT_DESK_AGENT_LIMIT": "6",
            "BOT_DESK_FIRST_RESPONSE_SECONDS": "60",
            "BOT_DESK_TEAMS": "vip=大客户组:@complaint; monitors=显示器组:monitor",
        }
    ).routing
    assert (routing.auto_assign, routing.agent_limit, routing.first_response_seconds) == (
        True,
        6,
        60,
    )
    assert [(t.code, t.name, t.reasons, t.categories) for t in routing.teams] == [
        ("vip", "大客户组", ("complaint",), ()),
        ("monitors", "显示器组", (), ("monitor",)),
    ]
    for name, value in [("BOT_DESK_TEAMS", "没有代码"), ("BOT_DESK_AGENT_LIMIT", "0")]:
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: value})


# --- who is picked ---------------------------------------------------------------------------


def test_the_least_loaded_free_agent_is_picked_and_ties_take_turns() -> None:
    a, b, c = (Staff(i, f"a{i}", f"A{i}", "agent") for i in (1, 2, 3))
    long_ago, lately = datetime(2026, 11, 20, 9), datetime(2026, 11, 20, 9, 30)
    # Least loaded first.
    assert assign.pick(None, [a, b, c], {1: 2, 2: 0, 3: 1}, {}, {}, 3) == b
    # Equal loads: whoever was given a conversation longest ago (never counts as longest).
    assert assign.pick(None, [a, b], {}, {1: lately, 2: long_ago}, {}, 3) == b
    assert assign.pick(None, [a, b], {}, {1: lately}, {}, 3) == b
    # Nobody under the limit: nobody.
    assert assign.pick(None, [a, b], {1: 3, 2: 3}, {}, {}, 3) is None
    # A team member on duty gets the team's customers even when busier, up to the limit...
    teams = {"complaints": {3}}
    assert assign.pick("complaints", [a, b, c], {3: 2}, {}, teams, 3) == c
    # ...and then the customer waits for them rather than go to someone else.
    assert assign.pick("complaints", [a, b, c], {3: 3}, {}, teams, 3) is None
    # No member of the team on duty: anyone.
    assert assign.pick("complaints", [a, b], {1: 1}, {}, teams, 3) == b


async def test_automatic_assignment_fills_agents_on_duty_evenly_up_to_their_limit(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    zhang, li, wang = staff["zhang"], staff["li"], staff["wang"]
    handoffs = [await hand_off_with(backend, rasa, f"auto-{i}", "requested") for i in range(5)]
    # Nobody on duty: everyone waits.
    assert await assign.assign_waiting(app_of(backend)) == []
    duty = await zhang.ok("POST", "/desk/api/duty", {"on_duty": True})
    # Going on duty assigns at once, up to the limit.
    assert (duty["on_duty"], duty["open"], duty["limit"]) == (True, 2, 2)
    await li.ok("POST", "/desk/api/duty", {"on_duty": True})
    # The supervisor on duty is no agent: never given customers automatically.
    await wang.ok("POST", "/desk/api/duty", {"on_duty": True})
    held = await holders(wang)
    assert [held[h] for h in handoffs] == ["张敏", "张敏", "李强", "李强", None]
    assert rasa.paused("auto-0")
    # A close frees a place: the next round gives the last customer to that agent.
    await zhang.ok("POST", f"/desk/api/handoffs/{handoffs[0]}/close", {})
    assert await assign.assign_waiting(app_of(backend)) == [(handoffs[4], "zhang")]
    # Off duty: nothing more, though a place is free.
    await li.ok("POST", f"/desk/api/handoffs/{handoffs[2]}/close", {})
    await li.ok("POST", "/desk/api/duty", {"on_duty": False})
    late = await hand_off_with(backend, rasa, "auto-late", "requested")
    assert await assign.assign_waiting(app_of(backend)) == []
    assert (await holders(wang))[late] is None
    # Logged out without pausing: given nobody either.
    await zhang.ok("POST", f"/desk/api/handoffs/{handoffs[1]}/close", {})
    await zhang.ok("POST", "/desk/api/logout")
    assert await assign.assign_waiting(app_of(backend)) == []
    audit = await wang.ok("GET", f"/desk/api/audit?handoff_id={handoffs[4]}")
    assert [(line["staff"], line["action"]) for line in audit] == [(None, "auto_assigned")]


@pytest.mark.parametrize("routing", [RoutingSettings()])
async def test_automatic_assignment_is_off_unless_turned_on(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    handoff = await hand_off_with(backend, rasa, "manual-1", "requested")
    duty = await staff["zhang"].ok("POST", "/desk/api/duty", {"on_duty": True})
    assert (duty["auto_assign"], duty["open"]) == (False, 0)
    assert await assign.assign_waiting(app_of(backend)) == []
    assert (await holders(staff["wang"]))[handoff] is None


# --- teams -----------------------------------------------------------------------------------


async def test_a_handoff_goes_to_its_team_and_only_supervisors_change_teams(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer]
) -> None:
    zhang, li, wang = staff["zhang"], staff["li"], staff["wang"]
    body = {"staff_ids": [li.id]}
    assert await zhang.refused("POST", "/desk/api/teams/complaints/members", body) == (
        403,
        "supervisors_only",
    )
    assert await wang.refused("POST", "/desk/api/teams/nope/members", body) == (
        404,
        "team_not_found",
    )
    assert await wang.refused(
        "POST", "/desk/api/teams/complaints/members", {"staff_ids": [999]}
    ) == (
        422,
        "unknown_staff",
    )
    team = await wang.ok("POST", "/desk/api/teams/complaints/members", body)
    assert [m["display_name"] for m in team["members"]] == ["李强"]
    teams = {t["code"]: t for t in await zhang.ok("GET", "/desk/api/teams")}
    assert set(teams) == {"complaints", "printers", "laptops"}

    complaint = await hand_off_with(backend, rasa, "team-1", "complaint", model_code="LJ2206")
    printer = await hand_off_with(backend, rasa, "team-2", "requested", model_code="LJ2206")
    other = await hand_off_with(backend, rasa, "team-3", "requested")
    queue = {i["id"]: i["team"] for i in await zhang.ok("GET", "/desk/api/handoffs?scope=queue")}
    assert queue == {complaint: "complaints", printer: "printers", other: None}

    # li is the complaints team: the complaint goes to li although zhang is less loaded.
    await li.ok("POST", "/desk/api/duty", {"on_duty": True})
    await zhang.ok("POST", "/desk/api/duty", {"on_duty": True})
    held = await holders(wang)
    assert held[complaint] == "李强"


# --- transfer with a note --------------------------------------------------------------------


async def test_transfer_to_a_colleague_or_a_team_with_a_note_the_receiver_sees(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer], clock: MovingClock
) -> None:
    zhang, li = staff["zhang"], staff["li"]
    handoff = await hand_off_with(backend, rasa, "move-1", "requested", contact="13912345678")
    base = f"/desk/api/handoffs/{handoff}"
    note = {"to": li.id, "note": "客户要换机，发票已核实，回电 13912345678"}
    assert await zhang.refused("POST", f"{base}/transfer", note) == (409, "not_holding")
    await zhang.ok("POST", f"{base}/claim")
    assert await zhang.refused("POST", f"{base}/transfer", {"note": "x"}) == (400, "invalid_body")
    assert await zhang.refused("POST", f"{base}/transfer", {"team": "nope"}) == (
        404,
        "team_not_found",
    )
    moved = await zhang.ok("POST", f"{base}/transfer", note)
    assert (moved["holder"], moved["transferred_by"]) == ("李强", "张敏")
    # The receiver sees the note on the item and in the conversation, phone masked.
    [mine] = await li.ok("GET", "/desk/api/handoffs?scope=mine")
    assert mine["transfer_note"] == "客户要换机，发票已核实，回电 139****5678"
    notes = (await li.ok("GET", base))["notes"]
    assert any(n["kind"] == "note" and n["data"].get("transfer") for n in notes)

    # To a team: back in the queue, with the team and the note, for whoever takes it.
    item = await li.ok("POST", f"{base}/transfer", {"team": "printers", "note": "打印机问题"})
    assert (item["status"], item["team"], item["holder"]) == ("waiting", "printers", None)
    assert item["transfer_note"] == "打印机问题" and item["transferred_by"] == "李强"
    [queued] = await zhang.ok("GET", "/desk/api/handoffs?scope=queue")
    assert queued["id"] == handoff and queued["transfer_note"] == "打印机问题"
    assert rasa.paused("move-1"), "the bot stays silent while the customer waits again"
    # Long after the handoff, the waiting check does not tell a customer who was being
    # served that nobody is free (nor wake the bot).
    clock.move(3600)
    assert await waiting.check_once(app_of(backend)) == 0
    assert rasa.paused("move-1") and "utter_desk_no_agent" not in rasa.said("move-1")


# --- response timers -------------------------------------------------------------------------


def test_the_timer_runs_from_the_handoff_then_from_each_unanswered_customer_message() -> None:
    t0 = NOW

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    first = timer("waiting", t0, Facts(), at(30), ROUTING)
    assert first is not None
    assert (first.phase, first.level, first.target_seconds, first.warn_seconds) == (
        "first",
        "ok",
        120,
        90,
    )
    levels = [timer("waiting", t0, Facts(), at(s), ROUTING) for s in (89, 90, 120)]
    assert [t.level if t else None for t in levels] == ["ok", "warn", "late"]
    answered = Facts(first_response_at=at(100), last_agent_at=at(100))
    assert timer("assigned", t0, answered, at(500), ROUTING) is None
    asked = replace(answered, last_customer_at=at(200))
    running = timer("assigned", t0, asked, at(340), ROUTING)
    assert running is not None
    assert (running.phase, running.since, running.elapsed_seconds, running.level) == (
        "next",
        at(200),
        140,
        "warn",
    )
    assert timer("closed", t0, Facts(), at(999), ROUTING) is None


async def test_timers_on_the_queue_turn_amber_then_red_and_stop_when_the_agent_answers(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer], db: Database, clock: MovingClock
) -> None:
    zhang = staff["zhang"]
    handoff = await hand_off_with(backend, rasa, "sla-1", "requested")

    async def sla() -> dict[str, Any] | None:
        item = (await zhang.ok("GET", f"/desk/api/handoffs/{handoff}"))["handoff"]
        return item["sla"]  # type: ignore[no-any-return]

    assert (await sla() or {})["level"] == "ok"
    clock.move(95)
    assert (await sla() or {})["level"] == "warn"
    clock.move(30)
    late = await sla() or {}
    assert (late["phase"], late["level"], late["elapsed_seconds"]) == ("first", "late", 125)
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/claim")
    assert (await sla() or {})["level"] == "late", "claiming is no answer"
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/messages", {"text": "您好，我来帮您"})
    assert await sla() is None
    clock.move(60)
    event = {"event": "user", "text": "还是不行", "timestamp": 5.0}
    await record_event(db, clock, "sla-1", event)
    clock.move(150)
    running = await sla() or {}
    assert (running["phase"], running["level"], running["elapsed_seconds"]) == ("next", "warn", 150)
    [mine] = await zhang.ok("GET", "/desk/api/handoffs?scope=mine")
    assert mine["sla"]["level"] == "warn"
    await zhang.ok("POST", f"/desk/api/handoffs/{handoff}/messages", {"text": "请重启试试"})
    assert await sla() is None


# --- work-order tools ------------------------------------------------------------------------


async def test_the_booking_form_comes_filled_in_and_orders_move_without_retyping_ids(
    backend: TestClient, rasa: FakeRasa, staff: dict[str, Staffer], db: Database
) -> None:
    zhang, li = staff["zhang"], staff["li"]
    conversation = "book-1"
    for name, value in [("address", "北京市海淀区中关村大街27号5号楼501"), ("city", "北京")]:
        rasa.events[conversation].append({"event": "slot", "name": name, "value": value})
    handoff = await hand_off_with(
        backend,
        rasa,
        conversation,
        "requested",
        contact="13912345678",
        serial="PF2K7Q9A",
        model_code="XB14",
        fault="开机无显示",
    )
    base = f"/desk/api/handoffs/{handoff}"
    await zhang.ok("POST", f"{base}/claim")
    draft = await zhang.ok("GET", f"{base}/booking")
    assert (draft["serial"], draft["fault"], draft["phone_masked"]) == (
        "PF2K7Q9A",
        "开机无显示",
        "139****5678",
    )
    assert draft["address_masked"] == "北京市海淀区中关村大街**"
    assert draft["stations"] and draft["stations"][0]["city"] == "北京"
    station = draft["stations"][0]["code"]
    slots = await zhang.ok("GET", f"/desk/api/stations/{station}/slots")
    assert slots and all(s["free"] > 0 for s in slots)
    booking = {
        "kind": "on_site",
        "serial": draft["serial"],
        "model_code": draft["model_code"],
        "fault": draft["fault"],
        "station_code": station,
        "slot_date": slots[0]["date"],
        "slot_start": slots[0]["start"],
        "phone_on_file": True,
        "address_on_file": True,
    }
    order = await zhang.ok("POST", f"{base}/workorders", booking)
    # The real number and address went into the order, though the page only saw them masked.
    async with db.read() as conn:
        w = tables.work_orders
        stored = (await conn.execute(select(w).where(w.c.id == order["id"]))).one()
    assert (stored.phone, stored.address) == ("13912345678", "北京市海淀区中关村大街27号5号楼501")
    # Without anything on file an on-site visit is refused as any booking is.
    assert await zhang.refused(
        "POST", f"{base}/workorders", booking | {"phone_on_file": False, "address_on_file": False}
    ) == (422, "invalid_body")

    [line] = await zhang.ok("GET", f"{base}/workorders")
    assert (line["id"], line["status"]) == (order["id"], order["status"])
    step = line["next"][0]
    moved = await zhang.ok(
        "POST", f"{base}/workorders/{line['id']}/transitions", {"to": step, "note": "已确认"}
    )
    assert moved["status"] == step
    # A colleague who does not hold the conversation neither reads nor moves its orders.
    assert await li.refused("GET", f"{base}/workorders") == (403, "not_yours")
    assert await li.refused("GET", f"{base}/booking") == (403, "not_yours")
