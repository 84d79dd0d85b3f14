"""Telegram operations: register the webhook, or poll when there is no public address.

    python scripts/telegram_cli.py set-webhook   # tell Telegram TELEGRAM_WEBHOOK_URL and the secret
    python scripts/telegram_cli.py poll          # getUpdates -> Rasa's Telegram webhook

Polling forwards every update, unchanged, to the webhook Telegram itself would call, with the
same secret header, so both modes run one code path (secret check, de-duplication by
update_id, the reply guard, the replies). An update is confirmed to Telegram (by asking for the
next offset) only once Rasa took it: while Rasa is down or restarting the poller waits and
sends the same update again, and Telegram keeps unconfirmed updates for a day, so a crash of
either side loses nothing; a second delivery is skipped by its update_id.

Settings come from the environment (see .env.example): TELEGRAM_TOKEN, TELEGRAM_SECRET_TOKEN,
TELEGRAM_WEBHOOK_URL (set-webhook), TELEGRAM_API_URL, TELEGRAM_FORWARD_URL (poll).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

import aiohttp
from telegram import Bot
from telegram.error import TelegramError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.guard import reply_timeout
from connectors.telegram import ALLOWED_UPDATES, SECRET_HEADER, TelegramSettings

log = logging.getLogger("telegram")

DEFAULT_FORWARD_URL = "http://127.0.0.1:5005/webhooks/telegram/webhook"
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


async def forward(session: aiohttp.ClientSession, url: str, secret: str, body: str) -> bool:
    """Hands one update to Rasa's webhook; True when it need not be sent again."""
    try:
        async with session.post(
            url,
            data=body.encode("utf-8"),
            headers={"Content-Type": "application/json", SECRET_HEADER: secret},
            # The channel answers within the reply guard's limit, plus sending the replies.
            timeout=aiohttp.ClientTimeout(total=reply_timeout() + 30),
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
) -> tuple[int | None, bool]:
    """One getUpdates round, each update forwarded in order.

    Returns the offset to ask for next (which confirms the updates before it to Telegram) and
    whether every update went through.
    """
    updates = await bot.get_updates(
        offset=offset, timeout=seconds, allowed_updates=list(ALLOWED_UPDATES)
    )
    for update in updates:
        if not await forward(session, forward_url, secret, update.to_json()):
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
                    bot, session, forward_url, settings.secret_token, offset, seconds=seconds
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


async def _poll_until_signal(settings: TelegramSettings, forward_url: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await poll(settings, forward_url, stop=stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("set-webhook", help="register TELEGRAM_WEBHOOK_URL with Telegram")
    poller = commands.add_parser("poll", help="long-poll Telegram and forward to Rasa")
    poller.add_argument(
        "--forward-url",
        default=os.environ.get("TELEGRAM_FORWARD_URL") or DEFAULT_FORWARD_URL,
        help="Rasa's Telegram webhook (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # The library logs every request at INFO; a long poll would fill the terminal.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = TelegramSettings.from_env()
    try:
        if args.command == "set-webhook":
            print(asyncio.run(set_webhook(settings)))
        else:
            asyncio.run(_poll_until_signal(settings, args.forward_url))
    except Refused as exc:
        log.error("%s", exc)
        return 1
    except TelegramError as exc:
        log.error("Telegram refused: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
