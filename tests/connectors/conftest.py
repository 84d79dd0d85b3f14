"""Channels served in-process, the way Rasa serves them, with a stand-in for the trained agent.

`serve(channel, agent)` builds the app with Rasa's own `configure_app([channel])` (the channel's
routes under `/webhooks/<name>/`, Rasa's handler calling `app.ctx.agent.handle_message`) and
runs it on a loopback port. `StandInAgent` has what the channels use of Rasa's `Agent`: the
domain's responses, a real in-memory tracker store, and `handle_message`, which records the
message and answers it the way Rasa's processor would (replies sent through the output
channel, then the user event with its message_id and the bot events saved at the end). No
model, no action server: each test runs in well under a second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from rasa.core.channels.channel import InputChannel
from rasa.core.run import configure_app
from sanic import Sanic

from tests.support.channels import Serve, StandInAgent, free_port


@pytest.fixture(scope="session", autouse=True)
def sanic_test_mode() -> Iterator[None]:
    """Lets one process start many Sanic apps, as sanic-testing does.

    configure_app names every app "rasa_core_no_api", which Sanic refuses twice outside test
    mode; and the first start rewrites some of Sanic's methods in place (TouchUp), so a later
    start outside test mode, which re-reads their source, fails. Hence for the whole session.
    """
    Sanic.test_mode = True
    yield
    Sanic.test_mode = False


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts `channel` with `agent` on a loopback port; returns the server's base URL."""
    servers: list[Any] = []

    async def start(channel: InputChannel, agent: StandInAgent) -> str:
        app = configure_app([channel], enable_api=False)
        app.ctx.agent = agent
        port = free_port()
        server: Any = await app.create_server(
            host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        servers.append(server)
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()
