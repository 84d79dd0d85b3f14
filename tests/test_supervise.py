"""`make run`'s supervisor (scripts/supervise.py) with tiny stand-in processes: a process that
dies is restarted and the others keep running, a crash loop makes it give up and stop the
rest with one clear line, SIGTERM or Ctrl-C stops everything in reverse order, and a process
that ignores SIGTERM is killed after the stop timeout."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from tests.support.stack import ROOT

# A stand-in for a server: says it runs, stops cleanly on SIGTERM (after a moment, as a
# server finishing its requests does), or ignores SIGTERM, or exits with a code at once.
CHILD = """
import os, signal, sys, time
name, mode = sys.argv[1], sys.argv[2]
def stop(*_):
    print(f"{name} got SIGTERM", flush=True)
    time.sleep(0.3)
    print(f"{name} done", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else stop)
print(f"{name} running as {os.getpid()} with {os.environ.get('GREETING')}", flush=True)
if mode.startswith("exit"):
    sys.exit(int(mode[4:]))
while True:
    time.sleep(0.05)
"""


@dataclass
class Run:
    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, seconds: float = 20, count: int = 1) -> list[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.output(), re.MULTILINE)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {count}× {pattern!r} in:\n{self.output()}")

    def stop(self, signum: int = signal.SIGTERM) -> float:
        """Send the signal; seconds until the supervisor exited."""
        started = time.monotonic()
        self.process.send_signal(signum)
        self.process.wait(timeout=30)
        return time.monotonic() - started

    def lines(self, pattern: str) -> list[str]:
        return [line for line in self.output().splitlines() if re.search(pattern, line)]


class Start(Protocol):
    def __call__(self, procfile: dict[str, str], *options: str, env_file: str = "") -> Run: ...


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Start]:
    runs: list[Run] = []
    child = tmp_path / "child.py"
    child.write_text(CHILD)

    def start(procfile: dict[str, str], *options: str, env_file: str = "") -> Run:
        (tmp_path / "Procfile").write_text(
            "".join(
                f"{name}: {sys.executable} {child} {name} {mode}\n"
                for name, mode in procfile.items()
            )
        )
        (tmp_path / "custom.env").write_text(env_file)
        log = tmp_path / f"supervise-{len(runs)}.log"
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "scripts" / "supervise.py"),
                "-f",
                str(tmp_path / "Procfile"),
                "-e",
                "custom.env,missing.env",
                *options,
            ],
            env={"PATH": "/usr/bin:/bin", "GREETING": "from-the-environment"},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        run = Run(process, log)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()


def _pid(run: Run, name: str) -> int:
    return int(run.wait_for(rf"{name} running as (\d+)")[-1])


def test_a_process_that_dies_is_restarted_and_the_others_keep_running(supervise: Start) -> None:
    run = supervise({"backend": "serve", "rasa": "serve"}, env_file="GREETING=from-the-file\n")
    backend, rasa = _pid(run, "backend"), _pid(run, "rasa")
    os.kill(backend, signal.SIGKILL)
    run.wait_for(r"backend running as", count=2)
    assert run.lines("supervise .*backend exited") == [
        line
        for line in run.lines("supervise")
        if "backend exited unexpectedly (killed by SIGKILL)" in line
    ]
    assert "restarting in 1 s (1 of 5 restarts allowed within 60 s)" in run.output()
    assert _pid(run, "rasa") == rasa, "the others keep running"
    assert "with from-the-file" in run.output(), "the env file wins over the environment"
    assert run.stop() < 10
    assert run.process.returncode == 0, run.output()


def test_a_crash_loop_gives_up_and_stops_everything(supervise: Start) -> None:
    run = supervise(
        {"backend": "serve", "actions": "exit3"}, "--max-restarts", "2", "--max-delay", "0.2"
    )
    run.process.wait(timeout=30)
    assert run.process.returncode == 1
    [gave_up] = run.lines("giving up")
    assert gave_up.endswith(
        "supervise | actions exited 3 times within 60 s (last: exit code 3); "
        "giving up and stopping everything"
    )
    assert len(run.lines(r"actions running as")) == 3
    assert run.lines("backend done"), "the others are stopped cleanly"
    assert run.lines("supervise")[-1].endswith(
        "everything stopped; gave up on actions, which kept exiting (above)"
    )


def test_sigterm_stops_everything_in_reverse_order(supervise: Start) -> None:
    run = supervise({"backend": "serve", "actions": "serve", "rasa": "serve"})
    for name in ("backend", "actions", "rasa"):
        _pid(run, name)
    took = run.stop()
    assert run.process.returncode == 0, run.output()
    assert took < 10
    order = [line.split("| ")[1].split()[0] for line in run.lines(r"\| \w+ got SIGTERM")]
    assert order == ["rasa", "actions", "backend"], "the front door closes first"
    assert len(run.lines(r"stopped in \d+\.\d s \(exit code 0\)")) == 3
    assert run.lines("everything stopped")[-1].endswith("| everything stopped")
    assert "restarting" not in run.output()


def test_ctrl_c_reaches_only_the_supervisor_which_stops_everything(supervise: Start) -> None:
    run = supervise({"backend": "serve", "rasa": "serve"})
    _pid(run, "backend")
    _pid(run, "rasa")
    # The terminal sends SIGINT to its foreground process group: the supervisor's, not the
    # children's (each has its own), so they are stopped in order rather than all at once.
    os.killpg(run.process.pid, signal.SIGINT)
    run.process.wait(timeout=30)
    assert run.process.returncode == 0, run.output()
    assert "SIGINT received; stopping everything" in run.output()
    assert "restarting" not in run.output()


def test_a_process_that_ignores_sigterm_is_killed_after_the_stop_timeout(supervise: Start) -> None:
    run = supervise({"backend": "serve", "rasa": "stubborn"}, "--stop-timeout", "1")
    _pid(run, "backend")
    _pid(run, "rasa")
    took = run.stop()
    assert run.process.returncode == 1
    assert 1 <= took < 5
    assert "rasa did not stop within 1 s; killing it" in run.output()
    assert "backend stopped in" in run.output()
    assert run.lines("everything stopped")[-1].endswith(
        "everything stopped (not all of it cleanly)"
    )
