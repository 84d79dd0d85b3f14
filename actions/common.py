"""What every custom action shares: the backend client, the bases, texts from the domain.

Actions stay thin: read slots, call the backend through `bot.client`, choose a response by
name. This module holds what they have in common: `client()` and `clock()`, the bases below,
texts composed from domain responses (`text`, `label`, `joined`), and the two slot checks
several forms share (`check_serial`, `read_phone`). What the tracker says about the
conversation (channel, earlier messages, idempotency keys) is in `actions.conversation`.

Error policy: which `bot.client.ServiceError` is answered where
-----------------------------------------------------------------
- `Unavailable` (the backend is down, timed out or failed) is answered here, by
  `BackendAction` and `BackendFormValidation`: `utter_backend_down` with a retry button whose
  payload is the class's `retry`. A running form is left, its filled slots kept, so the retry
  resumes it. An action that must answer an outage otherwise overrides
  `BackendAction.unavailable` (a complaint is handed to a person even when it is not recorded).
- Refusals an action anticipates are answered by that action, with its own response:
  `NotFound` for an id the customer typed (`check_serial`, work-order lookups), `Conflict`
  by its code (`slot_full`, `too_late`, `coverage_expired`, ...), `RateLimited` for code
  checks, `Invalid` for a model name or an extension the backend will not sell.
- `ActionHandoff` and `ActionRequestCallback` answer every `ServiceError`: pausing the
  conversation without a handoff record would leave the customer waiting for nobody.
- Anything else, such as an `Invalid` or `NotFound` that no action anticipated, is a bug.
  It is not caught: rasa_sdk logs it, the action sends nothing, and the channel guard
  (`connectors/guard.py`) answers with `utter_service_unavailable`.
`TurnAction` answers no error; use it for actions that do not call the backend.

Domain entries used here: `utter_backend_down` (a button with payload `{retry}`),
`utter_label_list_separator`, `utter_serial_invalid`, `utter_serial_not_found`,
`utter_phone_invalid`.
"""

from __future__ import annotations

import logging
import os
import random
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa.core.nlg.generator import ResponseVariationFilter
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import channel
from bot.client import NotFound, ServiceClient, Unavailable
from bot.clock import Clock
from bot.contracts.ids import normalize_serial
from bot.contracts.masking import CN_DIGITS
from bot.contracts.rules import CN_PHONE

log = logging.getLogger(__name__)

_client: ServiceClient | None = None
_clock: Clock | None = None


def client() -> ServiceClient:
    """The process's backend client, created on first use (no I/O at import time)."""
    global _client
    if _client is None:
        _client = ServiceClient.from_env()
    return _client


async def close_client() -> None:
    """Close the client's connections (the action server stopping); a later call makes a new one."""
    global _client
    if _client is not None:
        await _client.close()
        _client = None


def use_client(service: ServiceClient | None) -> None:
    """Replace the client (tests point actions at a backend on a temporary database)."""
    global _client
    _client = service


def clock() -> Clock:
    """The backend's time, for reading "明天下午"; see `clock_from_env`."""
    global _clock
    if _clock is None:
        _clock = clock_from_env(os.environ)
    return _clock


def clock_from_env(env: Mapping[str, str]) -> Clock:
    """BOT_TIMEZONE and BOT_CLOCK, parsed as `bot.settings.Settings.from_env` parses them.

    Only these two: a setting that only the backend or the desk reads cannot stop the action
    server from starting.
    """
    tz = ZoneInfo(env.get("BOT_TIMEZONE", "Asia/Shanghai"))
    raw = env.get("BOT_CLOCK")
    if not raw:
        return Clock(tz)
    try:
        frozen = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"BOT_CLOCK must be an ISO date and time, got {raw!r}") from exc
    return Clock(tz, fixed=frozen if frozen.tzinfo else frozen.replace(tzinfo=tz))


def use_clock(fixed: Clock | None) -> None:
    """Replace the clock (tests run against a backend living on a fixed date)."""
    global _clock
    _clock = fixed


# --- texts composed from domain responses --------------------------------------------------


# The output channel and the slots of the turn being answered, set by `answering`.
_TURN: ContextVar[tuple[str | None, dict[str, Any]]] = ContextVar("turn", default=(None, {}))
# Rasa's REST channel answers through its CollectingOutputChannel, named "collector": that is
# the name a `channel:` variation must carry, for Rasa and here alike.
_OUTPUT_CHANNELS = {"rest": "collector"}


@contextmanager
def answering(tracker: Tracker) -> Iterator[None]:
    """Render texts inside for this tracker's turn: its channel and slots pick the variation."""
    name = channel(tracker)
    token = _TURN.set((_OUTPUT_CHANNELS.get(name, name), dict(tracker.slots)))
    try:
        yield
    finally:
        _TURN.reset(token)


def variation(domain: DomainDict, response: str) -> dict[str, Any]:
    """One variation of a response, chosen as Rasa's TemplatedNaturalLanguageGenerator does.

    Rasa's own `ResponseVariationFilter` keeps the variations for the turn's output channel
    and slots (conditional and channel-specific ones first); one is then picked at random (Rasa
    uses numpy for that). Outside `answering` (a helper called on its own) only the plain
    variations qualify. A response missing from the domain reads as its own name.
    """
    responses = domain.get("responses") or {}
    if not responses.get(response):
        return {"text": response}
    output_channel, slots = _TURN.get()
    suitable = ResponseVariationFilter(responses).responses_for_utter_action(
        response, output_channel, slots
    )
    return dict(random.choice(suitable)) if suitable else {}


def text(domain: DomainDict, response: str, /, **values: Any) -> str:
    """The text of a domain response with its {placeholders} filled (missing ones empty)."""
    template = str(variation(domain, response).get("text", ""))
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


# --- slot checks shared by several forms ---------------------------------------------------

PHONE = re.compile(CN_PHONE)


def read_phone(value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """The phone slot from what the customer typed, or a hint of what a number looks like."""
    # 一三九 一七二八 四四零六 and ＋86 139-1728-4406 are numbers too.
    typed = unicodedata.normalize("NFKC", str(value or "")).translate(CN_DIGITS)
    phone = re.sub(r"[\s()（）-]", "", typed)
    if not PHONE.fullmatch(phone):
        dispatcher.utter_message(response="utter_phone_invalid", value=shown(value))
        return {"phone": None}
    return {"phone": phone}


async def check_serial(
    value: Any, dispatcher: CollectingDispatcher, *, allow_none: bool = False
) -> dict[str, Any]:
    """Validate a serial number against the device registry; fills the device's model too."""
    if allow_none and value == "none":
        return {"serial_number": "none"}
    serial = normalize_serial(str(value or ""))
    if serial is None:
        dispatcher.utter_message(response="utter_serial_invalid", value=shown(value))
        return {"serial_number": None}
    try:
        device = await client().device(serial)
    except NotFound:
        dispatcher.utter_message(response="utter_serial_not_found", serial=serial)
        return {"serial_number": None}
    return {
        "serial_number": serial,
        "device_model": device.model_code,
        "device_category": device.category,
    }


# --- the bases -----------------------------------------------------------------------------


class TurnAction(Action, ABC):
    """An action whose composed texts suit the turn it answers; it answers no error itself."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with answering(tracker):
            return await self.act(dispatcher, tracker, domain)

    @abstractmethod
    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]: ...


def backend_down(dispatcher: CollectingDispatcher, retry: str) -> list[EventType]:
    dispatcher.utter_message(response="utter_backend_down", retry=retry)
    return []


class BackendAction(TurnAction, ABC):
    """An action that calls the backend; a backend outage becomes an apology with a retry."""

    #: The payload of the retry button, e.g. "/book_repair".
    retry = "/greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            return await super().run(dispatcher, tracker, domain)
        except Unavailable as exc:
            log.warning("%s: backend unavailable: %s", self.name(), exc)
            return await self.unavailable(dispatcher, tracker)

    async def unavailable(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """The answer to an outage: an apology with a retry button."""
        events = backend_down(dispatcher, self.retry)
        if tracker.active_loop_name:
            # Leave the form; its filled slots stay, and the retry button resumes it.
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events


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
            with answering(tracker):
                validated: list[EventType] = await super().run(dispatcher, tracker, domain)
            return validated
        except Unavailable as exc:
            log.warning("%s: backend unavailable: %s", self.name(), exc)
            events = backend_down(dispatcher, self.retry)
            return [*events, ActiveLoop(None), SlotSet("requested_slot", None)]
