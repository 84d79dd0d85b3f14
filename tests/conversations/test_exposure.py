"""The running system as `make run` exposes it: the stack starts Rasa and the action server
the Procfile's way (scripts/rasa_server.py, scripts/action_server.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp

from tests.support.stack import Stack


def _other_address() -> str | None:
    """This machine's address on its default route, if it has one besides loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_no_secret_is_on_any_command_line(stack: Stack) -> None:
    secrets = [stack.actions_token.encode()]
    if stack.env.get("CHAT_SECRET"):
        secrets.append(stack.env["CHAT_SECRET"].encode())
    for process in stack.processes:
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert not any(secret in cmdline for secret in secrets), cmdline


def test_every_process_listens_on_loopback_only(stack: Stack) -> None:
    other = _other_address()
    for port in (stack.backend_port, stack.actions_port, stack.rasa_port):
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        if other is not None:
            with socket.socket() as sock:
                sock.settimeout(2)
                assert sock.connect_ex((other, port)) != 0, port


async def test_the_action_server_answers_only_rasa(stack: Stack) -> None:
    call = {"next_action": "action_find_stations", "sender_id": "x", "tracker": {}, "domain": {}}
    async with aiohttp.ClientSession() as session:
        async with session.post(stack.action_url, json=call) as reply:
            assert reply.status == 401
        async with session.get(stack.action_url.replace("/webhook", "/health")) as reply:
            assert reply.status == 200


async def test_rasa_admits_the_chat_pages_origin_only(stack: Stack) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    async with aiohttp.ClientSession() as session:
        async with session.options(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            headers=preflight | {"Origin": stack.backend_url},
        ) as reply:
            assert reply.headers.get("Access-Control-Allow-Origin") == stack.backend_url
        async with session.options(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            headers=preflight | {"Origin": "http://evil.example"},
        ) as reply:
            assert "Access-Control-Allow-Origin" not in reply.headers
