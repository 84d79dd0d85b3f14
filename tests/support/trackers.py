"""Trackers as Rasa sends them to the action server, and what a dispatcher collected.

For the action tests (tests/actions/): a tracker whose latest user message, slots, active loop
and history are given, so an action can be run with a `CollectingDispatcher`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher


def make_tracker(
    text: str = "",
    intent: str | None = None,
    *,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    extracted: dict[str, Any] | None = None,
    active_loop: str | None = None,
    history: list[dict[str, Any]] | None = None,
    ranking: list[dict[str, Any]] | None = None,
    sender: str = "customer-1",
    channel: str = "rest",
) -> Tracker:
    """A tracker whose latest user message is `text` with `intent` (and earlier `history`).

    `extracted` are the slots Rasa filled from that message, which a form validates.
    """
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.95} if intent else {},
        "entities": entities or [],
        "intent_ranking": ranking or ([{"name": intent, "confidence": 0.95}] if intent else []),
        "message_id": f"msg-{abs(hash((text, intent))) % 10**8}",
    }
    events = [
        *(history or []),
        {
            "event": "user",
            "text": text,
            "parse_data": latest,
            "input_channel": channel,
            "timestamp": 1_700_000_000.0,
        },
        *({"event": "slot", "name": k, "value": v} for k, v in (extracted or {}).items()),
    ]
    all_slots = {**(slots or {}), **(extracted or {})}
    if active_loop:
        all_slots.setdefault("requested_slot", None)
    return Tracker(
        sender_id=sender,
        slots=all_slots,
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def user_event(text: str, intent: str) -> dict[str, Any]:
    """An earlier user message, for trackers with history."""
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": intent}},
        "input_channel": "rest",
        "timestamp": 1_699_999_000.0,
    }


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [m.get("response") for m in dispatcher.messages]
