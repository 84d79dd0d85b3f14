"""A handoff asked for when the desk is closed: the bot says so once, with the choices, and
does not pause (so the customer's button reaches it); it never first says "正在为您转接".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoffs import ActionHandoff
from bot.client import ServiceClient
from bot.settings import Settings
from tests.support.database import settings_for
from tests.support.trackers import make_tracker, responses


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The frozen clock says 10:00; this desk works evenings only."""
    return replace(settings_for(database_url), desk_hours=("18:00", "22:00"))


async def test_after_hours_the_bot_says_closed_and_does_not_pause(
    service: ServiceClient, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = make_tracker("转人工", "request_human", sender="late-7")
    events = await ActionHandoff().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_desk_after_hours"]
    [handoff] = await service.handoffs(conversation_id="late-7")
    assert events == [SlotSet("handoff_id", handoff.id)]
    assert handoff.status == "waiting"  # still in the queue for the morning
