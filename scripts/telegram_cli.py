"""Telegram operations: register the webhook, or poll when there is no public address.

    python scripts/telegram_cli.py set-webhook  # TELEGRAM_WEBHOOK_URL and the secret to Telegram
    python scripts/telegram_cli.py poll         # getUpdates, each update to Rasa's webhook

Both are in `connectors/telegram_ops.py` (polling hands each update to the channel's own
webhook).

Settings come from the environment (see .env.example): TELEGRAM_TOKEN, TELEGRAM_SECRET_TOKEN,
TELEGRAM_WEBHOOK_URL (set-webhook), TELEGRAM_API_URL, TELEGRAM_FORWARD_URL and
CHANNEL_REPLY_TIMEOUT (poll: how long Rasa may take to answer a forwarded update).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from telegram.error import TelegramError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.telegram import TelegramSettings
from connectors.telegram_ops import Refused, poll, set_webhook

log = logging.getLogger("telegram")

DEFAULT_FORWARD_URL = "http://127.0.0.1:5005/webhooks/telegram/webhook"


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
