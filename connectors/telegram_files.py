"""A customer's photo in Telegram: downloaded through the Bot API (getFile, then the file URL),
kept by the backend (`POST /api/attachments` with the internal token, which sniffs the type,
strips the EXIF and stores it), and put in the transcript as the web chat's photos are
(`connectors.attachments`), so the agent sees it at the desk and it goes with the customer's
work order. An agent's photo is fetched back (`fetch`) to send it on.

A photo that cannot be kept (no backend configured, too large, Telegram or the backend down)
is answered as before: `utter_text_only`, or `[photo]` for the desk while an agent holds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from telegram import Bot, PhotoSize, Update
from telegram.error import TelegramError

log = logging.getLogger("connectors.telegram")

BACKEND_TIMEOUT = aiohttp.ClientTimeout(total=15)


@dataclass(frozen=True)
class FileSettings:
    """Where the backend is and its internal token (as the action server has them)."""

    backend_url: str | None
    backend_token: str | None
    max_bytes: int = 10 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FileSettings:
        env = os.environ if env is None else env
        return cls(
            backend_url=(env.get("BOT_API_URL") or "").rstrip("/") or None,
            backend_token=env.get("BOT_API_TOKEN") or None,
            max_bytes=int(env.get("BOT_ATTACHMENT_MAX_BYTES") or 10 * 1024 * 1024),
        )


def photo_of(update: Update) -> PhotoSize | None:
    """The largest size of the photo an update carries, if it carries one."""
    message = update.message or update.edited_message
    return message.photo[-1] if message and message.photo else None


async def keep(
    bot: Bot, settings: FileSettings, chat_id: str, photo: PhotoSize
) -> dict[str, Any] | None:
    """The backend's attachment for the photo, or None when it could not be kept."""
    if not settings.backend_url or not settings.backend_token:
        return None
    if photo.file_size and photo.file_size > settings.max_bytes:
        return None
    try:
        found = await bot.get_file(photo.file_id)
        data = bytes(await found.download_as_bytearray())
    except TelegramError:
        log.warning("telegram: photo %s of %s not downloaded", photo.file_unique_id, chat_id)
        return None
    params = {
        "conversation_id": chat_id,
        "channel": "telegram",
        "name": f"telegram-{photo.file_unique_id}.jpg",
    }
    headers = {"Authorization": f"Bearer {settings.backend_token}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=BACKEND_TIMEOUT) as session,
            session.post(
                f"{settings.backend_url}/api/attachments", params=params, data=data, headers=headers
            ) as reply,
        ):
            if reply.status != 201:
                log.warning("telegram: the backend refused a photo (%s)", reply.status)
                return None
            kept: dict[str, Any] = await reply.json()
            return kept
    except (aiohttp.ClientError, TimeoutError):
        log.warning("telegram: the backend is unreachable; photo of %s not kept", chat_id)
        return None


async def fetch(settings: FileSettings, attachment_id: str) -> bytes | None:
    """The bytes of an attachment (an agent's photo for the customer), None if unavailable."""
    if not settings.backend_url or not settings.backend_token:
        return None
    headers = {"Authorization": f"Bearer {settings.backend_token}"}
    url = f"{settings.backend_url}/api/attachments/{attachment_id}"
    try:
        async with (
            aiohttp.ClientSession(timeout=BACKEND_TIMEOUT) as session,
            session.get(url, headers=headers) as reply,
        ):
            return await reply.read() if reply.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        log.warning("telegram: the backend is unreachable; attachment %s not sent", attachment_id)
        return None
