"""A photo or file in a conversation, as the channels handle it: the page's description of an
upload checked field by field, and the message that announces it kept in the transcript
without a turn of the assistant (which cannot read pictures). The bytes themselves are the
backend's (bot/attachments): checked, stripped of EXIF and stored there.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import OutputChannel, UserMessage

from connectors.guard import domain_text, is_paused

# Said when a customer sends a photo or file to the bot (no person holds the conversation).
FILE_RECEIVED = "utter_attachment_received"
# The types bot/attachments/files.py accepts: a description naming another is not passed on.
ATTACHMENT_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf")
_ATTACHMENT_ID = re.compile(r"[A-Za-z0-9_-]{10,32}")


def attachment_of(raw: Any) -> dict[str, Any] | None:
    """The description of a file the page uploaded to the backend, or None if malformed."""
    if not isinstance(raw, dict):
        return None
    found_id, name, kind, size = (raw.get(k) for k in ("id", "name", "content_type", "size"))
    if not (isinstance(found_id, str) and _ATTACHMENT_ID.fullmatch(found_id)):
        return None
    if not (isinstance(name, str) and 0 < len(name) <= 120) or kind not in ATTACHMENT_TYPES:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return None
    return {
        "id": found_id,
        "name": name,
        "content_type": kind,
        "size": size,
        "image": kind != "application/pdf",
        "sender": "customer",
    }


async def announce(
    agent: Agent,
    output: OutputChannel,
    message: UserMessage,
    attachment: dict[str, Any],
    *,
    answer: bool,
) -> None:
    """Keep the message announcing a file in the transcript (the desk and the history show
    it) without a turn of the assistant; with `answer` the bot says it has it, unless a person
    holds the conversation."""
    if agent.processor is None:
        return  # no model loaded yet: nothing can be kept
    paused = await is_paused(agent, message.sender_id)
    message.metadata = (message.metadata or {}) | {
        "display": message.text,
        "attachment": attachment,
    }
    async with agent.lock_store.lock(message.sender_id):
        await agent.processor.log_message(message)
    if answer and not paused:
        text = domain_text(agent, FILE_RECEIVED, output.name())
        await output.send_text_message(message.sender_id, text)
