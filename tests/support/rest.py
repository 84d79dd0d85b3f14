"""Talking to the assistant through its REST channel, as a web page or a script would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from tests.support.database import REST_HEADERS

TIMEOUT = aiohttp.ClientTimeout(total=60)


@dataclass
class Turn:
    """What one message did: the bot's replies and the events it added to the tracker."""

    replies: list[dict[str, Any]]
    intent: str | None
    actions: list[str]
    slots: list[tuple[str, Any]]
    paused: bool


async def post(session: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    async with session.post(
        f"{url}/webhooks/rest/webhook",
        data=data.encode("utf-8"),
        headers={"Content-Type": "application/json"} | REST_HEADERS,
        timeout=TIMEOUT,
    ) as reply:
        return reply.status, await reply.json(content_type=None)


async def tracker(session: aiohttp.ClientSession, url: str, sender: str) -> dict[str, Any]:
    async with session.get(
        f"{url}/conversations/{quote(sender, safe='')}/tracker", timeout=TIMEOUT
    ) as reply:
        reply.raise_for_status()
        return dict(await reply.json())


async def say(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> Turn:
    status, replies = await post(session, url, {"sender": sender, "message": text})
    assert status == 200, replies
    state = await tracker(session, url, sender)
    events = state["events"]
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    turn = events[last_user + 1 :]
    return Turn(
        replies=replies,
        intent=(events[last_user].get("parse_data") or {}).get("intent", {}).get("name"),
        actions=[
            e["name"] for e in turn if e["event"] == "action" and e["name"] != "action_listen"
        ],
        slots=[(e["name"], e["value"]) for e in turn if e["event"] == "slot"],
        paused=bool(state.get("paused")),
    )
