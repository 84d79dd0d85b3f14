"""Run the Procfile's processes, restart one that dies, stop them all cleanly: `make run`.

    python scripts/supervise.py [-f Procfile] [-e var/secrets.env,.env] [NAME ...]

- Starts every process of the Procfile (or the NAMEs) at once, with the environment plus the
  env files (honcho's format and precedence: a later file wins, a file wins over the
  environment, a missing file is skipped), each in its own process group and exec'd by
  `/bin/sh` (so the signals reach the server itself), and prints their output as honcho does
  (`12:00:01 backend | ...`).
- A process that exits when nobody asked it to (a crash, `kill -9`, an out-of-memory kill, or
  a clean exit after an operator's `kill -TERM`) is restarted after 1 s, 2 s, 4 s … (at most
  `--max-delay`). The others keep running: customers get an apology from the channel while the
  backend or the action server is away (`connectors/guard.py`), not silence.
- A crash loop ends it: when one process exits more than `--max-restarts` (5) times within
  `--window` (60) seconds, the supervisor says so in one line (`supervise: rasa exited 6 times
  within 60 s ...; giving up and stopping everything`), stops the others and exits with 1.
- SIGTERM or SIGINT (Ctrl-C) stops everything in reverse Procfile order, one process at a
  time, so the front door closes first and its requests in flight can still reach the
  services behind it: each gets SIGTERM and `--stop-timeout` (10) seconds, then SIGKILL. A
  second signal kills everything at once. The exit code is 0 when all stopped in time.

Why not honcho alone: it ends everything when one process exits and kills after 5 s. Why not
supervisord or circus: supervisord restarts a process that ran past `startsecs` for ever (its
retry limit only counts failed starts), has no "give up and stop the rest" without an event
listener, and wants its own config and log files; circus brings ZeroMQ and Tornado. This is
honcho's Procfile, env-file parser and printer plus a loop short enough to read and test
(tests/test_supervise.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from honcho.colour import get_colours
from honcho.environ import parse as parse_env
from honcho.environ import parse_procfile
from honcho.printer import Message, Printer

NAME = "supervise"
# Output lines longer than this are cut into pieces rather than stall the pipe.
LINE_LIMIT = 1 << 20


def shell_line(command: str) -> str:
    """A Procfile line for `sh -c`: a single command is exec'd, so the supervisor's signals
    and the exit code are the server's own, not a shell's that dies first and leaves the
    server running (or killed mid-stop); a line with `;`, `&` or `|` runs as written."""
    if any(c in command for c in ";&|\n") or command.lstrip().startswith("exec "):
        return command
    return f"exec {command}"


def exit_status(code: int) -> str:
    return f"exit code {code}" if code >= 0 else f"killed by {signal.Signals(-code).name}"


@dataclass(frozen=True)
class Policy:
    max_restarts: int = 5
    window: float = 60.0
    first_delay: float = 1.0
    max_delay: float = 8.0
    stop_timeout: float = 10.0

    def delay(self, recent_exits: int) -> float:
        return min(self.max_delay, self.first_delay * 2.0 ** max(0, recent_exits - 1))


@dataclass(eq=False)
class Child:
    name: str
    command: str
    env: dict[str, str]
    colour: str
    process: asyncio.subprocess.Process | None = None
    exits: deque[float] = field(default_factory=deque)
    restarts: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    output: asyncio.Task[None] | None = None


class Supervisor:
    def __init__(
        self,
        processes: Sequence[tuple[str, str]],
        env: dict[str, str],
        policy: Policy = Policy(),
        out: TextIO = sys.stdout,
    ) -> None:
        colours: Iterator[str] = get_colours()
        self.children = [Child(n, c, env, next(colours)) for n, c in processes]
        self.policy = policy
        width = max([len(NAME), *(len(n) for n, _ in processes)])
        self.printer = Printer(out, width=width)
        self.stopping = False
        self.gave_up: str | None = None
        self.clean = True
        self._stopped = asyncio.Event()
        self._stop_task: asyncio.Task[None] | None = None

    # --- output ------------------------------------------------------------------------------

    def say(self, text: str, name: str = NAME, colour: str | None = None) -> None:
        self.printer.write(Message("line", text, datetime.now(), name, colour))

    async def _pump(self, child: Child, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line over LINE_LIMIT: take what there is
                line = await stream.read(LINE_LIMIT)
            if not line:
                return
            self.say(line.decode("utf-8", "replace").rstrip("\n"), child.name, child.colour)

    # --- one process -------------------------------------------------------------------------

    async def _spawn(self, child: Child) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            shell_line(child.command),
            env=child.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own group: Ctrl-C reaches only the supervisor
            limit=LINE_LIMIT,
        )
        assert process.stdout is not None
        child.process = process
        child.output = asyncio.create_task(self._pump(child, process.stdout))
        self.say(f"{child.name} started (pid {process.pid})")
        return process

    async def _reaped(self, child: Child, process: asyncio.subprocess.Process) -> int:
        code = await process.wait()
        # What the process group left behind (a child of the shell) must not hold the port.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if child.output is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(child.output), timeout=1)
            child.output.cancel()
        child.process = None
        return code

    async def _keep(self, child: Child) -> None:
        """Run one process until everything stops, restarting it when it exits."""
        while True:
            async with child.lock:
                if self.stopping:
                    return
                process = await self._spawn(child)
            code = await self._reaped(child, process)
            if self.stopping:
                return
            now = time.monotonic()
            child.exits.append(now)
            while child.exits and child.exits[0] < now - self.policy.window:
                child.exits.popleft()
            how = exit_status(code)
            if len(child.exits) > self.policy.max_restarts:
                self.say(
                    f"{child.name} exited {len(child.exits)} times within "
                    f"{self.policy.window:.0f} s (last: {how}); giving up and stopping everything"
                )
                self.gave_up = child.name
                self.stop()
                return
            delay = self.policy.delay(len(child.exits))
            self.say(
                f"{child.name} exited unexpectedly ({how}); restarting in {delay:.3g} s "
                f"({len(child.exits)} of {self.policy.max_restarts} restarts allowed within "
                f"{self.policy.window:.0f} s)"
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=delay)
            child.restarts += 1

    async def _stop_one(self, child: Child) -> None:
        async with child.lock:  # not while it is being started
            process = child.process
        if process is None or process.returncode is not None:
            return
        started = time.monotonic()
        self.say(f"stopping {child.name} (SIGTERM)")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            code = await asyncio.wait_for(process.wait(), timeout=self.policy.stop_timeout)
        except asyncio.TimeoutError:
            self.clean = False
            self.say(
                f"{child.name} did not stop within {self.policy.stop_timeout:.0f} s; killing it"
            )
            self.kill(child)
            code = await process.wait()
        took = time.monotonic() - started
        self.say(f"{child.name} stopped in {took:.1f} s ({exit_status(code)})")
        if code not in (0, -signal.SIGTERM):
            self.clean = False

    def kill(self, child: Child) -> None:
        if child.process is not None and child.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)

    # --- everything --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every process, last started first (once)."""
        if self._stop_task is None:
            self.stopping = True
            self._stop_task = asyncio.create_task(self._stop_all())

    async def _stop_all(self) -> None:
        try:
            for child in reversed(self.children):
                await self._stop_one(child)
        finally:
            self._stopped.set()

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.stopping:
            self.say(f"{name} received again; killing everything now")
            self.clean = False
            for child in self.children:
                self.kill(child)
            return
        self.say(f"{name} received; stopping everything")
        self.stop()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        keepers = [asyncio.create_task(self._keep(child)) for child in self.children]
        await self._stopped.wait()
        await asyncio.gather(*keepers)
        if self.gave_up:
            self.say(f"everything stopped; gave up on {self.gave_up}, which kept exiting (above)")
            return 1
        self.say("everything stopped" + ("" if self.clean else " (not all of it cleanly)"))
        return 0 if self.clean else 1


def read_env(files: str, root: Path) -> dict[str, str]:
    """The environment plus the env files, as `honcho start -e` gives it to the processes."""
    content = []
    for name in (f.strip() for f in files.split(",")):
        with contextlib.suppress(OSError):
            content.append((root / name).read_text())
    from_files: dict[str, str] = parse_env("\n".join(content))
    return dict(os.environ) | from_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="supervise", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-f", "--procfile", default="Procfile")
    parser.add_argument("-e", "--env", default=".env", help="env files, comma-separated")
    parser.add_argument("--max-restarts", type=int, default=Policy.max_restarts)
    parser.add_argument("--window", type=float, default=Policy.window, metavar="SECONDS")
    parser.add_argument("--first-delay", type=float, default=Policy.first_delay, metavar="SECONDS")
    parser.add_argument("--max-delay", type=float, default=Policy.max_delay, metavar="SECONDS")
    parser.add_argument(
        "--stop-timeout", type=float, default=Policy.stop_timeout, metavar="SECONDS"
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these processes")
    args = parser.parse_args(argv)
    procfile = Path(args.procfile)
    processes = parse_procfile(procfile.read_text()).processes
    unknown = set(args.names) - set(processes)
    if unknown:
        parser.error(f"not in {procfile}: {', '.join(sorted(unknown))}")
    chosen = [(n, c) for n, c in processes.items() if not args.names or n in args.names]
    policy = Policy(
        max_restarts=args.max_restarts,
        window=args.window,
        first_delay=args.first_delay,
        max_delay=args.max_delay,
        stop_timeout=args.stop_timeout,
    )
    env = read_env(args.env, procfile.resolve().parent)
    return asyncio.run(Supervisor(chosen, env, policy).run())


if __name__ == "__main__":
    sys.exit(main())
