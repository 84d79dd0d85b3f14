"""The backend alone as a process (`python -m bot serve`) on a test database: for the tests of
how it starts and stops, without Rasa or the action server (the desk then reports Rasa down)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.database import API_TOKEN
from tests.support.stack import FROZEN_AT, ROOT, free_port


@dataclass
class BackendProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def backend_env(database_url: str, workdir: Path, port: int | None = None) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "BOT_DATABASE_URL": database_url,
        "BOT_PORT": str(port or free_port()),
        "BOT_API_TOKEN": API_TOKEN,
        "BOT_CLOCK": FROZEN_AT,
        # A test scans for early-warning alerts when it chooses, not 10 s after the start.
        "BOT_INSIGHT_SCAN_SECONDS": "0",
        "BOT_DESK_EVENTS_URL": f"sqlite:///{workdir / 'events.db'}",
        # Nothing listens there: the desk runs without Rasa.
        "BOT_RASA_URL": f"http://127.0.0.1:{free_port()}",
    }


def start_backend(env: dict[str, str], log: Path, seconds: float = 60) -> BackendProcess:
    """Start it and wait until /api/health answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    backend = BackendProcess(process, int(env["BOT_PORT"]), log, env)
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, backend.output()
        assert time.monotonic() < deadline, "the backend did not start"
        try:
            with urllib.request.urlopen(f"{backend.url}/api/health", timeout=2):
                return backend
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)


def desk_user(
    env: dict[str, str],
    username: str,
    name: str,
    password: str,
    role: str = "agent",
    station: str | None = None,
) -> None:
    """A staff account, made as an operator makes one (`python -m bot desk-user`)."""
    where = ["--station", station] if station else []
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "desk-user",
            username,
            "--name",
            name,
            "--role",
            role,
            *where,
        ],
        cwd=ROOT,
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
