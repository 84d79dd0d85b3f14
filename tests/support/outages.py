"""What the fault benchmark breaks: the stack's processes (killed with -9 and started again,
as `make run`'s supervisor does) and, in scale-out mode, PostgreSQL, Redis and RabbitMQ on
this machine (restarted with their service tools; needs root).

The scale-out stack uses databases and a RabbitMQ queue and exchange of its own (`ScaleOut`),
so other users of the same servers are not touched beyond the restart itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.stack import Stack

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class ScaleOut:
    """Names of this benchmark's own database, queue and keys on the shared servers."""

    prefix: str = "bench_faults"
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    redis_db: int = 5

    @property
    def bot_db(self) -> str:
        return f"{self.prefix}_bot"

    @property
    def rasa_db(self) -> str:
        return f"{self.prefix}_rasa"

    @property
    def queue(self) -> str:
        return f"{self.prefix}_events"

    @property
    def exchange(self) -> str:
        # Rasa's default exchange is shared by every Rasa on the server (a fanout): our own
        # keeps other benchmarks' events out of our queue and ours out of theirs.
        return f"{self.prefix}-exchange"

    def pg_url(self, database: str) -> str:
        return f"postgresql://postgres@{self.pg_host}:{self.pg_port}/{database}"

    def env(self) -> dict[str, str]:
        return {
            "BOT_DATABASE_URL": self.pg_url(self.bot_db),
            "BOT_TRACKER_DB_URL": self.pg_url(self.rasa_db),
            "BOT_DESK_EVENTS_URL": "amqp://guest:guest@127.0.0.1:5672/",
            "BOT_DESK_EVENTS_QUEUE": self.queue,
            "BOT_REDIS_URL": f"redis://127.0.0.1:6379/{self.redis_db}",
        }

    def endpoints(self, action_url: str) -> str:
        """endpoints.scale.yml with this benchmark's values."""
        return (
            f'action_endpoint:\n  url: "{action_url}"\n'
            "  headers:\n    Authorization: Bearer ${ACTIONS_TOKEN}\n"
            "tracker_store:\n  type: connectors.stores.SteadySQLTrackerStore\n"
            "  dialect: postgresql\n"
            f"  url: {self.pg_host}\n  port: {self.pg_port}\n  db: {self.rasa_db}\n"
            "  username: postgres\n"
            "lock_store:\n  type: redis\n  url: 127.0.0.1\n  port: 6379\n"
            f"  db: {self.redis_db}\n  key_prefix: {self.prefix}\n"
            # A heartbeat longer than Rasa's model load: with the default 60 s, RabbitMQ
            # dropped the connection while the load held Rasa's event loop on a busy machine.
            "event_broker:\n  type: pika\n  url: amqp://127.0.0.1:5672/?heartbeat=600\n"
            "  username: guest\n"
            f"  password: guest\n  exchange_name: {self.exchange}\n"
            f"  queues:\n    - {self.queue}\n"
        )

    def reset(self) -> None:
        """Fresh databases and an empty queue of our own (never anyone else's)."""
        for name in (self.bot_db, self.rasa_db):
            _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _psql(f'CREATE DATABASE "{name}"')
        subprocess.run(
            ["rabbitmqctl", "delete_queue", self.queue], capture_output=True, check=False
        )


def _psql(sql: str) -> None:
    subprocess.run(["psql", ADMIN_URL, "-qc", sql], check=True, capture_output=True)


@dataclass
class RestartableStack(Stack):
    """The test stack whose processes can be killed and started again by name."""

    scale: ScaleOut | None = None
    commands: dict[str, tuple[list[str], str, float, dict[str, str] | None]] = field(
        default_factory=dict
    )
    named: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # How many times the tests' start-up limits to wait: Rasa took over 300 s to load its
    # model when other engineers' suites kept both cores busy (load 17 to 19).
    patience: float = 3.0

    def __post_init__(self) -> None:
        if self.scale is not None:
            self.extra_env = self.extra_env | self.scale.env()

    @property
    def endpoints(self) -> Path:
        if self.scale is None:
            return super().endpoints
        path = self.workdir / "endpoints.scale.yml"
        path.write_text(self.scale.endpoints(self.action_url), encoding="utf-8")
        return path

    def _start(
        self,
        name: str,
        args: list[str],
        health: str,
        seconds: float,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        short = name.split("-")[0]
        seconds *= self.patience
        self.commands[short] = (args, health, seconds, extra_env)
        super()._start(name, args, health, seconds, extra_env)
        self.named[short] = self.processes[-1]

    def kill(self, name: str) -> None:
        process = self.named[name]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.processes.remove(process)
        # The restarted process writes a new log under the same name: keep this one.
        for log in self.workdir.glob(f"{name}*.log"):
            log.rename(log.with_suffix(f".killed-{int(time.time())}"))

    def restart(self, name: str) -> None:
        """Start a killed process again and wait until it answers its health URL."""
        args, health, seconds, extra_env = self.commands[name]
        super()._start(name, args, health, seconds, extra_env)
        self.named[name] = self.processes[-1]

    def terminate(self, name: str, seconds: float = 20) -> float:
        """SIGTERM one process; seconds until it exited."""
        process = self.named[name]
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.processes.remove(process)
        return time.monotonic() - started


# --- the shared servers (scale-out) ----------------------------------------------------------

SERVICES: dict[str, list[list[str]]] = {
    # A fast stop (the clients' connections are cut, as in a crash or a failover) and a start.
    "postgresql": [["pg_ctlcluster", "15", "main", "restart", "-m", "fast"]],
    "redis": [["service", "redis-server", "restart"]],
    "rabbitmq": [["rabbitmqctl", "stop_app"], ["rabbitmqctl", "start_app"]],
}
CHECKS: dict[str, list[str]] = {
    "postgresql": ["pg_isready", "-h", "127.0.0.1", "-p", "5432"],
    "redis": ["redis-cli", "ping"],
    "rabbitmq": ["rabbitmqctl", "await_startup", "--timeout", "20"],
}
STARTS: dict[str, list[str]] = {
    "postgresql": ["pg_ctlcluster", "15", "main", "start"],
    "redis": ["service", "redis-server", "start"],
    "rabbitmq": ["rabbitmqctl", "start_app"],
}


def _answers(service: str) -> bool:
    done = subprocess.run(CHECKS[service], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


def restart_service(service: str, down_seconds: float = 2.0) -> None:
    """Restart one shared server and wait until it answers again. RabbitMQ stays down for
    `down_seconds` between its stop and its start (the others restart in one command)."""
    steps = SERVICES[service]
    for n, command in enumerate(steps):
        if n:
            time.sleep(down_seconds)
        subprocess.run(command, capture_output=True, timeout=120, check=True)
    deadline = time.monotonic() + 60
    while not _answers(service):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{service} does not answer after its restart")
        time.sleep(0.3)


def ensure_running() -> dict[str, bool]:
    """Start whichever shared server is not answering (after a benchmark, whatever failed);
    returns which answer now."""
    state = {}
    for service in SERVICES:
        if not _answers(service):
            subprocess.run(STARTS[service], capture_output=True, timeout=120, check=False)
        state[service] = _answers(service)
    return state


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())
