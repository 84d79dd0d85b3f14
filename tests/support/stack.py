"""The whole system in separate processes, as `make run` starts it, on a temporary database.

Used by the `stack` fixture of tests/conftest.py (conversation, channel, desk and browser
tests) and by `scripts/bench_rest.py` and `scripts/bench_desk.py`. The backend's clock is frozen
(BOT_CLOCK) so that work-order ids, free slots and warranty ages in the test stories never
drift with the calendar.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.support.database import API_TOKEN, REST_TOKEN

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# A Friday morning; the demo data is generated around it.
FROZEN_AT = "2026-11-20T10:00:00+08:00"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def latest_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise RuntimeError("no trained model in models/: run `make train` first")
    return models[-1]


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} died on start:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s; see {log}")


@dataclass
class Stack:
    workdir: Path
    backend_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    rasa_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Settings of channels and the desk that a test needs on every process of the stack.
    extra_env: dict[str, str] = field(default_factory=dict)
    # Rasa sends it to the action server (endpoints), as `make run` does from var/secrets.env.
    actions_token: str = field(default_factory=lambda: secrets.token_hex(32))

    @property
    def env(self) -> dict[str, str]:
        return (
            os.environ
            | {
                "PYTHONPATH": str(ROOT),
                "RASA_TELEMETRY_ENABLED": "false",
                "BOT_DATABASE_URL": f"sqlite:///{self.workdir / 'bot.db'}",
                "BOT_PORT": str(self.backend_port),
                "BOT_API_URL": f"http://127.0.0.1:{self.backend_port}",
                "BOT_API_TOKEN": API_TOKEN,
                "REST_CHANNEL_TOKEN": REST_TOKEN,
                # The tests and benchmarks send many messages from one address, fast.
                "CHANNEL_RATE_PER_CONVERSATION": "6000/1000",
                "CHANNEL_RATE_PER_CLIENT": "60000/10000",
                "BOT_CLOCK": FROZEN_AT,
                # The stories check many codes from one address.
                "BOT_VERIFY_PER_MINUTE": "1000",
                "BOT_VERIFY_UNKNOWN_PER_HOUR": "1000",
                # The web chat page finds this stack's Rasa socket.
                "CHAT_SOCKET_URL": self.rasa_url,
                # The desk reads this stack's Rasa and its event table.
                "BOT_RASA_URL": self.rasa_url,
                "BOT_DESK_EVENTS_URL": f"sqlite:///{self.events_db}",
                # Its tracker store: the desk recovers from it what the broker missed.
                "BOT_TRACKER_DB_URL": f"sqlite:///{self.workdir / 'rasa.db'}",
                # Photos and files sent in the tests' conversations.
                "BOT_ATTACHMENTS_DIR": str(self.workdir / "attachments"),
                "ACTIONS_TOKEN": self.actions_token,
                # Rasa's HTTP API stays without a token (loopback only) for the tests' own calls.
                "RASA_TOKEN": "",
            }
            | self.extra_env
        )

    @property
    def events_db(self) -> Path:
        """Rasa's SQL event broker table, which the desk reads."""
        return self.workdir / "events.db"

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.backend_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def endpoints(self) -> Path:
        """The project's endpoints.yml, as `make run` reads it, on this stack's own action
        server and databases: every SQLite file named there is moved into the workdir."""
        config = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
        config["action_endpoint"]["url"] = self.action_url
        for store in ("tracker_store", "event_broker", "lock_store"):
            section = config.get(store) or {}
            if section.get("dialect") == "sqlite" and section.get("db"):
                section["db"] = str(self.workdir / Path(section["db"]).name)
        path = self.workdir / "endpoints.yml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        return path

    def _start(
        self,
        name: str,
        args: list[str],
        health: str,
        seconds: float,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        log = self.workdir / f"{name}.log"
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env | (extra_env or {}),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        _wait(health, process, log, seconds)

    def start(self, *, devices: int = 300, codes: int = 600) -> Stack:
        subprocess.run(
            [
                str(BIN / "python"),
                "-m",
                "bot",
                "seed",
                "--migrate",
                "--devices",
                str(devices),
                "--codes",
                str(codes),
            ],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        try:
            self._start(
                "backend",
                [str(BIN / "python"), "-m", "bot", "serve"],
                f"http://127.0.0.1:{self.backend_port}/api/health",
                60,
            )
            self._start(
                "actions",
                [
                    str(BIN / "python"),
                    "scripts/action_server.py",
                    "--actions",
                    "actions",
                    "--port",
                    str(self.actions_port),
                ],
                f"http://127.0.0.1:{self.actions_port}/health",
                120,
            )
            self.start_rasa(self.endpoints, self.rasa_port)
        except BaseException:
            self.stop()
            raise
        return self

    def restart_backend(self, extra_env: dict[str, str]) -> None:
        """The backend again on the same database with other settings (a later BOT_CLOCK: the
        day a 回访 is due), as after a deploy; Rasa and the action server keep running."""
        backend = self.processes.pop(0)
        backend.terminate()
        backend.wait(timeout=20)
        self._start(
            "backend",
            [str(BIN / "python"), "-m", "bot", "serve"],
            f"http://127.0.0.1:{self.backend_port}/api/health",
            60,
            extra_env,
        )
        # First again, so that `stop` ends it last, as it started first.
        self.processes.insert(0, self.processes.pop())

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}/webhook"

    def start_rasa(
        self, endpoints: Path, port: int, extra_env: dict[str, str] | None = None
    ) -> None:
        self._start(
            f"rasa-{port}",
            [
                # As `make run` (the Procfile): loopback, CORS for the chat page's origin (the
                # backend's port), secrets from the environment only.
                str(BIN / "python"),
                "scripts/rasa_server.py",
                "--enable-api",
                "--model",
                str(latest_model()),
                "--port",
                str(port),
                "--credentials",
                "credentials.yml",
                "--endpoints",
                str(endpoints),
            ],
            # /status answers once the model is loaded.
            f"http://127.0.0.1:{port}/status",
            300,
            extra_env,
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
