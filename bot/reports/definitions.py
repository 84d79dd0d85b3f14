"""What each report figure means, defined once (README "Reports" repeats these words).

Conversations (from Rasa's events, folded one event at a time by ``fold``):

- A *conversation* is a Rasa sender id with at least one customer message; its day is the
  day of its first event, in the service's time zone.
- Each conversation has exactly one *outcome*: ``handed_off`` when it was paused for a person
  at least once (Rasa's ``pause`` event: the handoff action), whatever happened after (a
  conversation handed back and then finished by the bot is still one handed-off
  conversation), else ``contained``. So containment rate + handoff rate = 100 %.
- *Fallback rate* = customer messages the NLU could not classify (intent ``nlu_fallback``)
  ÷ customer messages; at most 100 %.
- The bot's *diagnosis* in a conversation is the last fault case it opened (slot ``kb_case``)
  on the last model it was told (slot ``device_model`` or ``model``): a fault report for the
  early warning.

Work orders (from the backend's tables, counted on the day the order was created):

- *by status*: the order's status now; *top faults*: error code (``未分类`` without one);
- *SLA*: ``closed_3d`` closed within 72 hours of creation, ``closed_late`` closed later,
  ``cancelled``, ``open`` (not closed yet). Shares of one day's orders: they add up to 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["contained", "handed_off"]
OUTCOMES: tuple[Outcome, ...] = ("contained", "handed_off")
SLA_HOURS = 72
SLA_KEYS = ("closed_3d", "closed_late", "cancelled", "open")
FALLBACK_INTENT = "nlu_fallback"


@dataclass
class ConversationFacts:
    first_at: float
    channel: str = ""
    user_turns: int = 0
    fallback_turns: int = 0
    handed_off: bool = False
    model_code: str | None = None
    fault_code: str | None = None

    @property
    def counted(self) -> bool:
        return self.user_turns > 0

    @property
    def outcome(self) -> Outcome:
        return "handed_off" if self.handed_off else "contained"


def fold(facts: ConversationFacts | None, event: dict[str, Any]) -> ConversationFacts:
    """The facts of a conversation after one more of its events (in order)."""
    at = float(event.get("timestamp") or 0.0)
    if facts is None:
        facts = ConversationFacts(first_at=at)
    kind = event.get("event")
    if kind == "user":
        facts.user_turns += 1
        facts.channel = facts.channel or str(event.get("input_channel") or "")[:20]
        intent = (event.get("parse_data") or {}).get("intent") or {}
        if intent.get("name") == FALLBACK_INTENT:
            facts.fallback_turns += 1
    elif kind == "pause":
        facts.handed_off = True
    elif kind == "slot":
        name, value = event.get("name"), event.get("value")
        text = str(value)[:40] if isinstance(value, str | int) and value != "" else None
        if name == "kb_case" and text:
            facts.fault_code = text
        elif name in ("device_model", "model") and text:
            facts.model_code = text[:30]
    return facts


def sla_key(status: str, created_at: Any, closed_at: Any) -> str:
    """The SLA outcome of one work order (datetimes of one kind, both naive UTC)."""
    if status == "cancelled":
        return "cancelled"
    if closed_at is None:
        return "open"
    hours = (closed_at - created_at).total_seconds() / 3600
    return "closed_3d" if hours <= SLA_HOURS else "closed_late"


def share(part: int, whole: int) -> float | None:
    """A rate as a fraction, None when nothing was counted (not 0 %: nothing to measure)."""
    return part / whole if whole else None
