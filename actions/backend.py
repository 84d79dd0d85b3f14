"""What every custom action shares: the backend client, domain texts, and failure handling.

Actions stay thin: read slots, call the backend through `bot.client`, choose a response by
name. When the backend is down the customer gets `utter_backend_down` with a retry button,
and the slots stay as they are, so nothing they gave is lost.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.client import ServiceClient, Unavailable
from bot.clock import Clock
from bot.settings import Settings

log = logging.getLogger(__name__)

_client: ServiceClient | None = None
_clock: Clock | None = None


def client() -> ServiceClient:
    """The process's backend client, created on first use (no I/O at import time)."""
    global _client
    if _client is None:
        _client = ServiceClient.from_env()
    return _client


def use_client(service: ServiceClient | None) -> None:
    """Replace the client (tests point actions at a backend on a temporary database)."""
    global _client
    _client = service


def clock() -> Clock:
    """The backend's time (BOT_TIMEZONE, BOT_CLOCK), for reading "明天下午"."""
    global _clock
    if _clock is None:
        _clock = Settings.from_env().clock()
    return _clock


def use_clock(fixed: Clock | None) -> None:
    """Replace the clock (tests run against a backend living on a fixed date)."""
    global _clock
    _clock = fixed


def text(domain: DomainDict, response: str, /, **values: Any) -> str:
    """The text of a domain response with its {placeholders} filled, for composing sentences."""
    variants = domain.get("responses", {}).get(response) or [{"text": response}]
    template = str(variants[0].get("text", ""))
    return template.format_map(_Defaults(values))


def label(domain: DomainDict, key: str, /, **values: Any) -> str:
    return text(domain, f"utter_label_{key}", **values)


def joined(domain: DomainDict, parts: Iterable[str]) -> str:
    return label(domain, "list_separator").join(parts)


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def shown(value: Any, limit: int = 24) -> str:
    """The customer's words quoted back in a hint; a long message is cut short."""
    words = " ".join(str(value or "").split())
    return words if len(words) <= limit else words[: limit - 1] + "…"


def channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


def source(tracker: Tracker) -> str:
    """Who is asking, for per-customer limits in the backend."""
    return f"{channel(tracker)}:{tracker.sender_id}"[:100]


def idempotency_key(tracker: Tracker, what: str) -> str:
    """Stable for one user turn: a retried action call sends the same key, a new turn a new one."""
    stamp = tracker.latest_message.get("message_id") or _latest_user_timestamp(tracker)
    return f"{tracker.sender_id}:{what}:{stamp}"[:100]


def _latest_user_timestamp(tracker: Tracker) -> str:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return str(event.get("timestamp"))
    return "0"


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "").strip()


def latest_intent(tracker: Tracker) -> str | None:
    intent = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    return str(name) if name else None


def last_intent_among(tracker: Tracker, names: Iterable[str]) -> str | None:
    """The most recent of these intents in the conversation (which journey started a form)."""
    wanted = set(names)
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            name = (event.get("parse_data") or {}).get("intent", {}).get("name")
            if name in wanted:
                return str(name)
    return None


def entity(tracker: Tracker, name: str) -> str | None:
    """An entity of the latest message (fresher than the slot, which may be from earlier)."""
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value is not None else None


def backend_down(dispatcher: CollectingDispatcher, retry: str) -> list[EventType]:
    dispatcher.utter_message(response="utter_backend_down", retry=retry)
    return []


class BackendAction(Action, ABC):
    """An action that calls the backend; a backend outage becomes an apology with a retry."""

    #: The payload of the retry button, e.g. "/book_repair".
    retry = "/greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            return await self.act(dispatcher, tracker, domain)
        except Unavailable as exc:
            log.warning("%s: backend unavailable: %s", self.name(), exc)
            events = backend_down(dispatcher, self.retry)
            if tracker.active_loop_name:
                # Leave the form; its filled slots stay, and the retry button resumes it.
                events += [ActiveLoop(None), SlotSet("requested_slot", None)]
            return events

    @abstractmethod
    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]: ...


class BackendFormValidation(FormValidationAction, ABC):
    """Form validation that may call the backend; on an outage the form pauses, values kept."""

    retry = "/greet"

    @abstractmethod
    def name(self) -> str:
        """validate_<form>; abstract so that rasa_sdk does not register this base class."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            validated: list[EventType] = await super().run(dispatcher, tracker, domain)
            return validated
        except Unavailable as exc:
            log.warning("%s: backend unavailable: %s", self.name(), exc)
            events = backend_down(dispatcher, self.retry)
            return [*events, ActiveLoop(None), SlotSet("requested_slot", None)]
