"""The support desk: staff take over conversations the bot hands off, and hand them back.

Parts: accounts and sessions (`accounts`), the console's API and page (`console`), the live
feed from Rasa's event broker to the agents' browsers (`feed`), Rasa's HTTP API (`rasa`) and
the waiting-time rules (`waiting`). `setup(app)` adds the background work, the page and the
login check to the backend; the API routes are listed in `bot.app.ROUTES`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot.api import SETTINGS
from bot.desk import accounts, console, feed, waiting
from bot.desk.rasa import RASA, Rasa


async def _rasa_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as session:
        app[RASA] = Rasa(session, settings.rasa_url, settings.rasa_token)
        app[console.CANNED_KEY] = console.load_canned()
        yield


def setup(app: web.Application) -> None:
    accounts.setup(app)
    app.cleanup_ctx.append(_rasa_client)
    app.cleanup_ctx.append(feed.feed_tasks)
    app.cleanup_ctx.append(waiting.watcher)
    console.add_page(app)
