"""Actions run against a real backend on a temporary database, over HTTP on loopback.

Trackers are built by `make_tracker`; responses are checked by name, events exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import common
from bot.app import create_app
from bot.client import ServiceClient
from bot.clock import Clock
from bot.settings import Settings

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    loaded: dict[str, Any] = Domain.load(str(DOMAIN_FILE)).as_dict()
    return loaded


@pytest.fixture
async def service(
    aiohttp_server: Any, settings: Settings, clock: Clock
) -> AsyncIterator[ServiceClient]:
    """The backend on a fresh seeded database, and the actions' client pointed at it."""
    server = await aiohttp_server(create_app(settings, clock))
    client = ServiceClient(str(server.make_url("/")), timeout=10)
    common.use_client(client)
    common.use_clock(clock)
    yield client
    await client.close()
    common.use_client(None)
    common.use_clock(None)


@pytest.fixture
async def backend_down(unused_tcp_port: int, clock: Clock) -> AsyncIterator[None]:
    """The actions' client pointed at a port where nothing listens."""
    client = ServiceClient(f"http://127.0.0.1:{unused_tcp_port}", timeout=1, retries=0)
    common.use_client(client)
    common.use_clock(clock)
    yield
    await client.close()
    common.use_client(None)
    common.use_clock(None)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def make_tracker(
    text: str = "",
    intent: str | None = None,
    *,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    extracted: dict[str, Any] | None = None,
    active_loop: str | None = None,
    history: list[dict[str, Any]] | None = None,
    ranking: list[dict[str, Any]] | None = None,
    sender: str = "customer-1",
    channel: str = "rest",
) -> Tracker:
    """A tracker whose latest user message is `text` with `intent` (and earlier `history`).

    `extracted` are the slots Rasa filled from that message, which a form validates.
    """
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.95} if intent else {},
        "entities": entities or [],
        "intent_ranking": ranking or ([{"name": intent, "confidence": 0.95}] if intent else []),
        "message_id": f"msg-{abs(hash((text, intent))) % 10**8}",
    }
    events = [
        *(history or []),
        {
            "event": "user",
            "text": text,
            "parse_data": latest,
            "input_channel": channel,
            "timestamp": 1_700_000_000.0,
        },
        *({"event": "slot", "name": k, "value": v} for k, v in (extracted or {}).items()),
    ]
    all_slots = {**(slots or {}), **(extracted or {})}
    if active_loop:
        all_slots.setdefault("requested_slot", None)
    return Tracker(
        sender_id=sender,
        slots=all_slots,
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def user_event(text: str, intent: str) -> dict[str, Any]:
    """An earlier user message, for trackers with history."""
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": intent}},
        "input_channel": "rest",
        "timestamp": 1_699_999_000.0,
    }


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [m.get("response") for m in dispatcher.messages]
