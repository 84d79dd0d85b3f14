"""What a customer is told later, and how it reaches them: responses of domain.yml rendered with
the order's facts, sent on the channel of the conversation the order was booked in.

- Rasa channels (web chat, Telegram, REST): the message is appended to the conversation as a
  bot event with `output_channel=latest&execute_side_effects=true`, the path the desk uses for
  an agent's reply (bot/desk/rasa.py). Rasa sends it on the customer's channel at once (the web
  chat's open page, Telegram through the Bot API by connectors/telegram_output.py) and keeps
  it in the tracker: a web-chat customer whose page is closed finds it in the transcript at the
  next visit, the desk sees it, and Telegram buttons longer than 64 bytes resolve.
- SMS (an order booked by phone, or a channel Rasa does not know): `SmsSender`, a pluggable
  interface; `LoggingSms` only logs (the embedded mode has no gateway).

The outbox's key (order:event:round) travels with each message (the bot event's metadata
`notice_key`, its `timestamp` is the first attempt's) so that a channel can drop a repeat.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot.api import ApiError
from bot.contracts.masking import mask_phone
from bot.contracts.transcript import NOTICE_KEY
from bot.desk.rasa import Rasa

log = logging.getLogger(__name__)

_FIELD = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Message:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


class Responses:
    """The responses of domain.yml by name (the first variant of each); read at start-up."""

    def __init__(self, responses: dict[str, list[dict[str, Any]]]) -> None:
        self._responses = responses

    @classmethod
    def load(cls, path: Path) -> Responses:
        domain = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(dict(domain.get("responses") or {}))

    def __contains__(self, name: str) -> bool:
        return name in self._responses

    def render(self, name: str, **values: Any) -> Message:
        """As Rasa fills a response: `{name}` from the values, `{{`/`}}` for literal braces."""
        variant = self._responses[name][0]
        return Message(
            text=_fill(str(variant.get("text", "")), values),
            buttons=[
                {
                    "title": _fill(str(b["title"]), values),
                    "payload": _fill(str(b["payload"]), values),
                }
                for b in variant.get("buttons") or []
            ],
        )

    def label(self, name: str, **values: Any) -> str:
        return self.render(f"utter_label_{name}", **values).text


def _fill(template: str, values: dict[str, Any]) -> str:
    try:
        return template.format(**{k: "" if v is None else v for k, v in values.items()})
    except (KeyError, IndexError, ValueError):
        # A value missing is a bug to see in the logs, not a message lost: fill what is known.
        log.warning("notices: values missing for %r", template)
        return _FIELD.sub(lambda m: str(values.get(m.group(1), "")), template)


@dataclass(frozen=True)
class Delivery:
    """One message to one customer; `key` is the outbox row's (order:event:round)."""

    key: str
    channel: str
    conversation_id: str | None
    phone: str | None
    message: Message
    stamp: float


class SendFailed(Exception):
    """The channel did not take the message; the outbox tries again later."""


class Sender(Protocol):
    async def send(self, delivery: Delivery) -> None: ...


class RasaSender:
    """Through Rasa's HTTP API, on the conversation's latest channel (see the module doc)."""

    def __init__(self, rasa: Rasa) -> None:
        self.rasa = rasa

    async def send(self, delivery: Delivery) -> None:
        if not delivery.conversation_id:
            raise SendFailed("no conversation to write to")
        event: dict[str, Any] = {
            "event": "bot",
            "text": delivery.message.text,
            "timestamp": delivery.stamp,
            "metadata": {NOTICE_KEY: delivery.key},
        }
        if delivery.message.buttons:
            event["data"] = {"buttons": delivery.message.buttons}
        try:
            await self.rasa.append(delivery.conversation_id, [event], latest=True)
        except ApiError as exc:
            raise SendFailed(exc.message) from exc


class SmsSender(Protocol):
    """A gateway's client: sends `text` to `phone`; `key` is its idempotency key, if it has one."""

    async def send_sms(self, phone: str, text: str, key: str) -> None: ...


class LoggingSms:
    """The embedded mode's SMS gateway: the message goes to the log (the number masked)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send_sms(self, phone: str, text: str, key: str) -> None:
        self.sent.append((phone, text, key))
        log.info("sms %s to %s: %s", key, mask_phone(phone), text)


class SmsChannel:
    """SMS as a `Sender`: the text only (buttons cannot travel by SMS)."""

    def __init__(self, gateway: SmsSender) -> None:
        self.gateway = gateway

    async def send(self, delivery: Delivery) -> None:
        if not delivery.phone:
            raise SendFailed("no phone to text")
        await self.gateway.send_sms(delivery.phone, delivery.message.text, delivery.key)


@dataclass
class Senders:
    """Which sender serves which channel: SMS for "sms", Rasa for every chat channel."""

    rasa: Sender
    sms: Sender

    def for_channel(self, channel: str) -> Sender:
        return self.sms if channel == "sms" else self.rasa
