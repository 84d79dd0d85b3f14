"""The cards a bot message may carry as its `custom` payload (built by `actions/cards.py`).

A card repeats, as data, what the message's text says; only the web chat draws it. The other
channels recognise a card by its `"card"` key and leave it out, so their customers get the
text exactly as before and never a second, empty or raw-JSON message.
"""

from __future__ import annotations

from typing import Any

CARD = "card"


def is_card(payload: Any) -> bool:
    """Whether a `custom` payload is one of our cards."""
    return isinstance(payload, dict) and isinstance(payload.get(CARD), str)
