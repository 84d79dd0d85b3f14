"""`Deliveries` on its own: a delivery is claimed before the conversation is looked up."""

from __future__ import annotations

import asyncio

from rasa.shared.core.events import BotUttered, UserUttered

from connectors.deliveries import Deliveries
from tests.support.channels import StandInAgent


async def test_only_one_of_two_simultaneous_deliveries_is_new() -> None:
    agent = StandInAgent()
    looked_up = agent.tracker_store.retrieve
    lookups = 0

    async def slow_retrieve(sender_id: str) -> object:
        nonlocal lookups
        lookups += 1
        await asyncio.sleep(0.05)  # a tracker store over the network
        return await looked_up(sender_id)

    agent.tracker_store.retrieve = slow_retrieve
    deliveries = Deliveries()
    results = await asyncio.gather(
        deliveries.claim(agent, "c1", "m-1"),
        deliveries.claim(agent, "c1", "m-1"),
    )
    assert sorted(results, key=lambda r: r is None) == [[], None]
    assert lookups == 1  # the repeat was caught in memory, during the first one's lookup


async def test_once_released_the_conversation_answers_for_the_delivery() -> None:
    agent = StandInAgent()
    deliveries = Deliveries()
    assert await deliveries.claim(agent, "c1", "m-1") is None
    await agent.record("c1", UserUttered("你好", message_id="m-1"), BotUttered("您好！"))
    deliveries.release("c1", "m-1")
    earlier = await deliveries.claim(agent, "c1", "m-1")
    assert earlier == [{"recipient_id": "c1", "text": "您好！"}]
    # A repeat answered from the conversation is not left in flight.
    assert await deliveries.claim(agent, "c1", "m-2") is None
