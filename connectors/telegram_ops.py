"""Telegram operations, run by `scripts/telegram_cli.py`: register the webhook, or poll.

`set_webhook` (`make set-webhook`) registers the public address with the secret and the update
types the channel reads. `poll` (`make telegram-poll`) is for a machine without a public
address: it forwards every update, unchanged, to the channel's own webhook with the secret, so
both modes run one code path. An update is confirmed to Telegram (by asking for the next
offset) only once Rasa took it; Telegram keeps unconfirmed updates for a day, so a crash on
either side loses nothing, and a second delivery is skipped by its update_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from telegram import Bot
from telegram.error import TelegramError

from connectors.guard import DEFAULT_REPLY_TIMEOUT
from connectors.telegram import ALLOWED_UPDATES, SECRET_HEADER, TelegramSettings

# One logger for the whole channel, whichever of its modules logs.
log = logging.getLogger("connectors.telegram")

POLL_SECONDS = 30
MAX_BACKOFF = 30.0


class Refused(Exception):
    """Rasa refused the secret: polling cannot work until the settings are fixed."""


async def set_webhook(settings: TelegramSettings) -> str:
    """Registers the webhook with the secret and the update types the channel reads."""
    if problem := settings.problem():
        raise SystemExit(f"cannot set the webhook: {problem}")
    if not settings.webhook_url or not settings.webhook_url.startswith("https://"):
        raise SystemExit("TELEGRAM_WEBHOOK_URL must be the public https:// address of the webhook")
    assert settings.secret_token
    async with settings.bot() as bot:
        await bot.set_webhook(
            url=settings.webhook_url,
            secret_token=settings.secret_token,
            allowed_updates=list(ALLOWED_UPDATES),
        )
        info = await bot.get_webhook_info()
    return f"webhook set: {info.url} ({info.pending_update_count} updates waiting)"


async def forward(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    body: str,
    *,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
) -> bool:
    """Hands one update to Rasa's webhook; True when it need not be sent again."""
    try:
        async with session.post(
            url,
            data=body.encode("utf-8"),
            headers={"Content-Type": "application/json", SECRET_HEADER: secret},
            # The channel answers within the reply guard's limit, plus sending the replies.
            timeout=aiohttp.ClientTimeout(total=reply_timeout + 30),
        ) as reply:
            if reply.status == 200:
                return True
            text = (await reply.text())[:300]
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        log.warning("Rasa did not take the update: %s", exc or type(exc).__name__)
        return False
    if reply.status == 403:
        raise Refused(f"Rasa refused the secret token ({url}): {text}")
    if reply.status == 400:
        # Malformed for this channel; sending it again would not change that.
        log.error("Rasa rejected an update as malformed, skipped: %s", text)
        return True
    log.warning("Rasa answered %s, the update will be sent again: %s", reply.status, text)
    return False


async def poll_once(
    bot: Bot,
    session: aiohttp.ClientSession,
    forward_url: str,
    secret: str,
    offset: int | None,
    *,
    seconds: int = POLL_SECONDS,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
) -> tuple[int | None, bool]:
    """One getUpdates round, each update forwarded in order.

    Returns the offset to ask for next (which confirms the updates before it to Telegram) and
    whether every update went through. `reply_timeout` is the channel's (CHANNEL_REPLY_TIMEOUT).
    """
    updates = await bot.get_updates(
        offset=offset, timeout=seconds, allowed_updates=list(ALLOWED_UPDATES)
    )
    for update in updates:
        body = update.to_json()
        if not await forward(session, forward_url, secret, body, reply_timeout=reply_timeout):
            return update.update_id, False
        offset = update.update_id + 1
    return offset, True


async def poll(
    settings: TelegramSettings,
    forward_url: str,
    *,
    stop: asyncio.Event,
    seconds: int = POLL_SECONDS,
) -> None:
    """Long-polls Telegram and forwards each update until `stop` is set."""
    if problem := settings.problem():
        raise SystemExit(f"cannot poll: {problem}")
    assert settings.secret_token
    async with settings.bot(poll_timeout=seconds) as bot, aiohttp.ClientSession() as session:
        # getUpdates is refused while a webhook is set.
        await bot.delete_webhook(drop_pending_updates=False)
        log.info("polling Telegram as @%s, forwarding to %s", bot.username, forward_url)
        offset: int | None = None
        backoff = 1.0
        while not stop.is_set():
            try:
                offset, delivered = await poll_once(
                    bot,
                    session,
                    forward_url,
                    settings.secret_token,
                    offset,
                    seconds=seconds,
                    reply_timeout=settings.guard.reply_timeout,
                )
            except TelegramError as exc:
                log.warning("getUpdates failed: %s", exc)
                delivered = False
            if delivered:
                backoff = 1.0
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
        if offset is not None:
            # Confirms what was forwarded, so a restart does not fetch it again.
            try:
                await bot.get_updates(offset=offset, timeout=0, limit=1)
            except TelegramError as exc:
                log.warning("could not confirm the last updates: %s", exc)
