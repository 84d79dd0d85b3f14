"""A message with a card (a `custom` payload from actions/cards.py) on each channel.

The web chat gets the text and its card as one message (one bubble, one `ts`), live and in
the history; REST gets the text exactly as before and no second message holding the card;
a payload that is no card of ours still reaches REST as Rasa sends it. Telegram drops every
custom payload (tests/connectors/test_telegram.py sends through the fake Bot API).
"""

from __future__ import annotations

from typing import Any

from rasa.shared.core.events import BotUttered, UserUttered

from connectors.deliveries import Deliveries
from connectors.rest import TextCollectingOutputChannel
from connectors.webchat_output import BOT_EVENT, WebchatOutput, transcript
from tests.support.channels import StandInAgent

CARD = {"card": "booking", "work_order_id": "WO20261120-0001", "labels": {"copy": "复制"}}


class RecordingSocketServer:
    """Stands in for python-socketio's server: records what would go to the room."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict[str, Any], str]] = []

    async def emit(self, event: str, data: dict[str, Any], room: str) -> None:
        self.emitted.append((event, data, room))


async def test_the_web_chat_gets_text_and_card_as_one_message() -> None:
    sio = RecordingSocketServer()
    output = WebchatOutput(sio)
    await output.send_response(
        "s1", {"text": "预约成功！", "custom": CARD, "timestamp": 1700000000.5}
    )
    assert sio.emitted == [
        (BOT_EVENT, {"text": "预约成功！", "custom": CARD, "ts": 1700000000.5}, "s1")
    ]


async def test_buttons_stay_with_the_text_and_its_card() -> None:
    sio = RecordingSocketServer()
    output = WebchatOutput(sio)
    buttons = [{"title": "预约维修", "payload": "/book_repair", "type": "postback"}]
    await output.send_response("s1", {"text": "结论", "custom": CARD, "buttons": buttons})
    ((_, message, _),) = sio.emitted
    assert message == {
        "text": "结论",
        "custom": CARD,
        "buttons": [{"title": "预约维修", "payload": "/book_repair"}],
    }


async def test_a_message_without_a_card_is_sent_as_before() -> None:
    sio = RecordingSocketServer()
    await WebchatOutput(sio).send_response("s1", {"text": "您好"})
    assert [data for _, data, _ in sio.emitted] == [{"text": "您好"}]


def test_the_history_shows_the_card_with_its_text() -> None:
    event = BotUttered("预约成功！", data={"custom": CARD}, timestamp=1700000000.5)
    assert transcript([event]) == [
        {"sender": "bot", "ts": 1700000000.5, "text": "预约成功！", "custom": CARD}
    ]


async def test_rest_gets_the_text_and_not_the_card() -> None:
    collector = TextCollectingOutputChannel()
    await collector.send_response("r1", {"text": "预约成功！", "custom": dict(CARD)})
    assert collector.messages == [{"recipient_id": "r1", "text": "预约成功！"}]


async def test_rest_still_gets_a_custom_payload_that_is_no_card() -> None:
    collector = TextCollectingOutputChannel()
    await collector.send_response("r1", {"custom": {"kind": "something else"}})
    assert collector.messages == [{"recipient_id": "r1", "custom": {"kind": "something else"}}]


async def test_a_retried_rest_delivery_is_answered_without_the_card_as_the_first() -> None:
    agent = StandInAgent()
    deliveries = Deliveries()
    assert await deliveries.claim(agent, "c1", "m-1") is None
    done = BotUttered("预约成功！", data={"custom": CARD})
    await agent.record("c1", UserUttered("确认提交", message_id="m-1"), done)
    deliveries.release("c1", "m-1")
    assert await deliveries.claim(agent, "c1", "m-1") == [
        {"recipient_id": "c1", "text": "预约成功！"}
    ]
