"""A notice of the outbox reaches the web chat page with its key, live and in the transcript,
and a notice written twice (a worker killed between sending and marking it sent) is in the
transcript once. The page's own half (it shows a key once, also after a reload) is
tests/browser/test_loop.py."""

from __future__ import annotations

from typing import Any

from rasa.shared.core.events import BotUttered, UserUttered

from connectors.webchat_output import BOT_EVENT, WebchatOutput, transcript

KEY = "WO20261120-0001:received:1"


class Room:
    """socket.io's server as the output channel uses it: what was emitted to which room."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict[str, Any], str]] = []

    async def emit(self, event: str, data: dict[str, Any], room: str) -> None:
        self.emitted.append((event, data, room))


def notice(text: str, key: str, stamp: float) -> BotUttered:
    return BotUttered(text, metadata={"notice_key": key}, timestamp=stamp)


async def test_a_live_notice_carries_its_key() -> None:
    room = Room()
    output = WebchatOutput(room)
    await output.send_response("conv-1", notice("已收到您的设备", KEY, 1000.0).message())
    await output.send_response("conv-1", BotUttered("您好", timestamp=1001.0).message())
    assert room.emitted == [
        (BOT_EVENT, {"text": "已收到您的设备", "ts": 1000.0, "notice_key": KEY}, "conv-1"),
        (BOT_EVENT, {"text": "您好", "ts": 1001.0}, "conv-1"),
    ]


def test_the_transcript_keeps_the_first_of_a_repeated_notice() -> None:
    events = [
        UserUttered("你好", timestamp=999.0),
        notice("已收到您的设备", KEY, 1000.0),
        notice("已收到您的设备", KEY, 1000.0),  # the same send, written again after a crash
        notice("已收到您的设备", KEY, 1500.0),
        notice("正在等待配件", "WO20261120-0001:waiting_parts:1", 2000.0),
    ]
    lines = transcript(events)
    assert [(line["sender"], line.get("notice_key"), line["ts"]) for line in lines] == [
        ("user", None, 999.0),
        ("bot", KEY, 1000.0),
        ("bot", "WO20261120-0001:waiting_parts:1", 2000.0),
    ]
