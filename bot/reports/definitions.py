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

The after-sales loop (``bot.reports.aftersales``; also counted on the order's creation day, so
every figure of an order moves with it, and each order has at most one outcome per metric):

- *CSAT*: an order is *surveyed* when its satisfaction survey was sent (notification ``csat``
  sent) or it was rated. Its outcome is its rating ``1``..``5``, or ``no_answer``.
  *Response rate* = rated ÷ surveyed; *CSAT* = ratings 4 or 5 ÷ rated. Both at most 100 %.
- *回访*: an order with a 回访 (follow-up) counts once, by its latest round: ``solved`` (the
  customer answered solved), ``satisfied`` (staff called: satisfied), ``recurred`` (the fault
  came back: reopened), ``unreachable`` (staff could not reach the customer, not settled yet),
  ``pending`` (asked, no answer), ``cancelled`` (the order was reopened before an answer).
- *On-site SLA*: an on-site order counts once, under the city tier of its station, as ``met``
  (the engineer set off by the promised time: the tier's hours after booking, or the end of
  the slot the customer chose if later; ``bot.station.dispatch.response_sla``), ``missed``
  (set off later), ``cancelled`` (cancelled before setting off) or ``open`` (not yet).
  *On-time share* = met ÷ (met + missed): the orders whose promise is decided.
- *Station load*: orders created for a station in the period ÷ (its daily capacity × days).
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


CSAT_KEYS = ("5", "4", "3", "2", "1", "no_answer")
SATISFIED_SCORES = ("4", "5")
FOLLOWUP_KEYS = ("solved", "satisfied", "recurred", "unreachable", "pending", "cancelled")
ONSITE_STATES = ("met", "missed", "open", "cancelled")
TIERS = (1, 2, 3)


def csat_key(rating: int | None, survey_sent: bool) -> str | None:
    """The CSAT outcome of one order; None when it was never surveyed (not counted)."""
    if rating is not None:
        return str(rating)
    return "no_answer" if survey_sent else None


def followup_key(status: str, outcome: str | None) -> str:
    """The outcome of an order's latest 回访 round (``bot.followups``)."""
    if outcome in ("solved", "satisfied", "recurred", "unreachable"):
        return outcome
    return "cancelled" if status == "cancelled" else "pending"


def onsite_state(status: str, responded: bool, on_time: bool) -> str:
    """The on-site SLA outcome of one on-site order."""
    if responded:
        return "met" if on_time else "missed"
    return "cancelled" if status == "cancelled" else "open"


def onsite_key(tier: int, state: str) -> str:
    return f"{tier}:{state}"
