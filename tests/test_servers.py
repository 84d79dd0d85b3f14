"""How `make run` starts Rasa and the action server: loopback, tokens never on a command line,
CORS for the chat page only, and an action server that answers Rasa alone."""

from __future__ import annotations

import importlib.util
import secrets
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rasa_ext
from tests.support.stack import ROOT, free_port

TOKEN = "t" * 64


def _script(name: str) -> Any:
    """A module of scripts/, which is a folder of programs rather than a package."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rasa_server = _script("rasa_server")
Refused, main, rasa_argv = rasa_server.Refused, rasa_server.main, rasa_server.rasa_argv


def test_rasa_gets_its_token_from_the_environment_and_listens_on_loopback() -> None:
    argv = rasa_argv(["--enable-api", "--port", "5005"], {"RASA_TOKEN": TOKEN})
    assert argv == [
        "rasa",
        "run",
        "--enable-api",
        "--port",
        "5005",
        "--interface",
        "127.0.0.1",
        "--cors",
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "--auth-token",
        TOKEN,
    ]


def test_settings_open_rasa_and_name_the_chat_pages_origin() -> None:
    env = {
        "RASA_TOKEN": TOKEN,
        "RASA_HOST": "0.0.0.0",
        "BOT_PUBLIC_URL": "https://Chat.example.com/",
    }
    argv = rasa_argv(["--enable-api"], env)
    assert argv[argv.index("--interface") + 1] == "0.0.0.0"
    assert argv[argv.index("--cors") + 1 : argv.index("--auth-token")] == [
        "https://chat.example.com"
    ]
    # An explicit option wins over the settings.
    argv = rasa_argv(["-i", "10.0.0.5", "--cors", "https://a.example"], {"RASA_HOST": "0.0.0.0"})
    assert argv == ["rasa", "run", "-i", "10.0.0.5", "--cors", "https://a.example"]


def test_a_token_on_the_command_line_or_an_open_api_without_one_is_refused() -> None:
    with pytest.raises(Refused, match="RASA_TOKEN"):
        rasa_argv(["--auth-token", TOKEN], {})
    with pytest.raises(Refused, match="RASA_TOKEN"):
        rasa_argv(["--auth-token=" + TOKEN], {})
    with pytest.raises(Refused, match="without RASA_TOKEN"):
        rasa_argv(["--enable-api"], {"RASA_HOST": "0.0.0.0"})
    # On loopback only (the conversation tests' stack), the API may go without one.
    assert "--auth-token" not in rasa_argv(["--enable-api"], {})


def test_the_token_reaches_rasas_parser_but_not_the_process_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []
    fake = types.ModuleType("rasa.__main__")
    fake.main = lambda: seen.extend(sys.argv)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rasa", types.ModuleType("rasa"))
    monkeypatch.setitem(sys.modules, "rasa.__main__", fake)
    # The real overrides import Rasa; the launcher must apply them before Rasa runs.
    overrides = types.ModuleType("rasa_ext.overrides")
    overrides.apply = lambda: seen.append("overrides applied")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rasa_ext.overrides", overrides)
    monkeypatch.setattr(rasa_ext, "overrides", overrides, raising=False)
    token = secrets.token_hex(32)
    monkeypatch.setenv("RASA_TOKEN", token)
    monkeypatch.setattr(sys, "argv", ["scripts/rasa_server.py", "--enable-api"])
    main()
    assert seen[0] == "overrides applied"
    assert seen[seen.index("--auth-token") + 1] == token
    assert token.encode() not in Path("/proc/self/cmdline").read_bytes()


def test_rasa_ends_by_itself_within_the_ten_seconds_after_the_stop_signal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Rasa's own app factory gets the deadline as one more `before_server_stop` listener.
    configure = rasa_server.with_stop_deadline(lambda **kwargs: kwargs)
    mine = (print, "after_server_stop")
    listeners = configure(server_listeners=[mine])["server_listeners"]
    assert listeners == [mine, (rasa_server.start_stop_deadline, "before_server_stop")]
    assert rasa_server.STOP_DEADLINE_SECONDS < 10
    # When the stop signal came, the process ends by itself once the deadline passed.
    exits: list[int] = []
    monkeypatch.setattr(rasa_server, "STOP_DEADLINE_SECONDS", 0.05)
    monkeypatch.setattr(rasa_server.os, "_exit", exits.append)
    rasa_server.start_stop_deadline(None, None).join(timeout=5)
    assert exits == [1]


# --- the action server, as a process --------------------------------------------------------


def _get(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one: the one its default
    route would send from (connecting a UDP socket sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def _action_server(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "scripts/action_server.py", "--actions", "actions", "--port", str(port)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false"} | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="module")
def action_server() -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    token, port = secrets.token_hex(32), free_port()
    process = _action_server(port, {"ACTIONS_TOKEN": token})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while _get_or_none(f"{url}/health") != 200:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        assert time.monotonic() < deadline, "the action server did not start"
        time.sleep(0.5)
    yield url, token, process
    process.terminate()
    process.wait(timeout=20)


def _get_or_none(url: str) -> int | None:
    try:
        return _get(url)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_the_action_server_answers_only_with_the_token(
    action_server: tuple[str, str, subprocess.Popen[bytes]],
) -> None:
    url, token, _ = action_server
    assert _get(f"{url}/health") == 200
    assert _get(f"{url}/actions") == 401
    assert _get(f"{url}/actions", "not-the-token") == 401
    assert _get(f"{url}/actions", token) == 200
    webhook = urllib.request.Request(f"{url}/webhook", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(webhook, timeout=5)
    assert refused.value.code == 401


def test_the_action_server_keeps_its_token_off_the_command_line_and_listens_on_loopback(
    action_server: tuple[str, str, subprocess.Popen[bytes]],
) -> None:
    url, token, process = action_server
    assert token.encode() not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
    other = _other_address()
    if other is not None:
        assert _get_or_none(url.replace("127.0.0.1", other) + "/health") is None


def test_the_action_server_does_not_start_without_a_token() -> None:
    process = _action_server(free_port(), {})
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert b"ACTIONS_TOKEN must be set" in output
