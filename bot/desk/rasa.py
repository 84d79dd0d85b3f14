"""The desk's side of Rasa's HTTP API: transcript, pause, agent messages, hand-back.

Agent messages are appended to the conversation as bot events with
`output_channel=latest&execute_side_effects=true`: Rasa delivers them on the channel the
customer last wrote from, and the transcript stays whole in the tracker.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from bot.api import SETTINGS, ApiError
from bot.contracts.transcript import DESK_AGENT, messages

TIMEOUT = aiohttp.ClientTimeout(total=10)
LATEST = {"output_channel": "latest", "execute_side_effects": "true"}


class Rasa:
    def __init__(self, session: aiohttp.ClientSession, url: str, token: str | None) -> None:
        self.session = session
        self.url = url
        self.token = token

    def _params(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return ({"token": self.token} if self.token else {}) | (extra or {})

    async def _call(
        self, method: str, conversation: str, path: str, body: Any = None, latest: bool = False
    ) -> Any:
        url = f"{self.url}/conversations/{quote(conversation, safe='')}/{path}"
        try:
            async with self.session.request(
                method,
                url,
                json=body,
                params=self._params(LATEST if latest else None),
                timeout=TIMEOUT,
            ) as reply:
                if reply.status >= 400:
                    detail = (await reply.text())[:300]
                    raise ApiError(502, "rasa_error", f"Rasa answered {reply.status}: {detail}")
                return await reply.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(
                503, "rasa_unavailable", f"the assistant is unreachable: {type(exc).__name__}"
            ) from exc

    async def status(self, timeout: float) -> tuple[int, Any]:
        """`GET /status` (with the token): Rasa's HTTP status and body, for the health report.
        Raises what the connection raises."""
        async with self.session.get(
            f"{self.url}/status", params=self._params(), timeout=aiohttp.ClientTimeout(timeout)
        ) as reply:
            body = await reply.json(content_type=None) if reply.status == 200 else None
            return reply.status, body

    async def tracker(self, conversation: str) -> dict[str, Any]:
        state = await self._call("GET", conversation, "tracker")
        return dict(state or {})

    async def append(self, conversation: str, events: list[dict[str, Any]], latest: bool) -> None:
        await self._call("POST", conversation, "tracker/events", events, latest=latest)

    async def say(
        self,
        conversation: str,
        text: str,
        agent: str,
        sent_at: float,
        data: dict[str, Any] | None = None,
    ) -> None:
        """An agent's message, delivered to the customer's channel and kept in the transcript;
        `data` carries its rich parts (a file: `{"custom": {"attachment": …}}`)."""
        event: dict[str, Any] = {
            "event": "bot",
            "text": text,
            "timestamp": sent_at,
            "metadata": {DESK_AGENT: agent},
        }
        if data:
            event["data"] = data
        await self.append(conversation, [event], latest=True)

    async def pause(self, conversation: str, agent: str | None = None) -> None:
        events: list[dict[str, Any]] = [{"event": "pause", "timestamp": time.time()}]
        if agent is not None:
            events.insert(0, {"event": "slot", "name": DESK_AGENT, "value": agent})
        await self.append(conversation, events, latest=False)

    async def resume(self, conversation: str) -> None:
        await self.append(conversation, [{"event": "resume"}], latest=False)

    async def utter(self, conversation: str, response: str) -> None:
        """Run one response (or action) of the domain on the customer's channel (the words
        live in domain.yml, not in the desk)."""
        await self._call("POST", conversation, "execute", {"name": response}, latest=True)
        # The bot now waits for the customer, as after any turn: without this the rules (which
        # start with the customer's message after action_listen) do not match the next message.
        await self.append(
            conversation, [{"event": "action", "name": "action_listen"}], latest=False
        )


RASA = web.AppKey("desk_rasa", Rasa)


async def client(app: web.Application) -> AsyncIterator[None]:
    """One HTTP session to Rasa for the app's lifetime."""
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as session:
        app[RASA] = Rasa(session, settings.rasa_url, settings.rasa_token)
        yield


def transcript(tracker: dict[str, Any]) -> list[dict[str, Any]]:
    """The customer's and the bot's (and agents') messages, oldest first."""
    lines: list[dict[str, Any]] = []
    for message in messages(tracker.get("events") or []):
        if message.sender == "user":
            # What the customer saw: a button's title, not its payload (/affirm).
            lines.append(
                {
                    "kind": "customer",
                    "text": message.shown,
                    "sent_at": message.timestamp,
                    "attachment": message.attachment,
                }
            )
            continue
        lines.append(
            {
                "kind": "agent" if message.agent else "bot",
                "text": message.text,
                "agent": message.agent,
                "buttons": message.button_titles,
                "sent_at": message.timestamp,
                "attachment": message.attachment,
            }
        )
    return lines
