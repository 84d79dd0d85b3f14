"""Start Rasa's server (`rasa run OPTIONS`) as `make run` wants it exposed.

    python scripts/rasa_server.py --model models --port 5005 --enable-api ...

- The HTTP API token comes from `RASA_TOKEN` in the environment and is handed to Rasa's own
  command-line parser inside this process, so `ps` and /proc/PID/cmdline (readable by every
  user of the machine) show only the options above, never the token.
- Rasa listens on `RASA_HOST`, by default 127.0.0.1: its HTTP API is for the backend, the
  page's socket finds it on the same machine. Set `RASA_HOST=0.0.0.0` (or an address) to
  serve other machines, e.g. behind a load balancer.
- CORS admits only the chat page's own origin: `BOT_PUBLIC_URL`, or by default
  http://127.0.0.1:BOT_PORT and http://localhost:BOT_PORT.

Options given on the command line win for the interface and CORS; a token given there is
refused. With the API on and no token, Rasa may only listen on loopback.

On SIGTERM Rasa (Sanic) stops accepting and lets requests in flight finish, for
`SANIC_GRACEFUL_SHUTDOWN_TIMEOUT` seconds (5 unless set; Sanic's own default is 15); then the
process ends without the interpreter's slow teardown of TensorFlow (`exit_without_teardown`).
Under load that grace can stretch far beyond 5 s, so the process ends 6.5 s after the signal
whatever still runs (`start_stop_deadline`).

Before Rasa starts, the one Rasa function this project replaces is replaced
(`rasa_ext.overrides`: the action response check, compiled once).
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.settings import Settings

DEFAULT_HOST = "127.0.0.1"
SHUTDOWN_GRACE_SECONDS = 5
# A process has 10 s after SIGTERM before it is killed (README, "Stopping"). The deadline
# starts when Sanic's event loop has taken the signal, which under load came 2.5 s late
# (11.5 s measured with 9 s here).
STOP_DEADLINE_SECONDS = 6.5


class Refused(Exception):
    """The options would expose a secret or an unauthenticated API."""


def _given(args: Sequence[str], *names: str) -> bool:
    return any(a in names or a.split("=", 1)[0] in names for a in args)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _option(args: Sequence[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name in names:
            return value or (args[i + 1] if i + 1 < len(args) else None)
    return None


def rasa_argv(args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """The full `rasa run` command line for Rasa's parser (never for a new process)."""
    if _given(args, "--auth-token"):
        raise Refused("pass the API token as RASA_TOKEN in the environment, not as an option")
    argv = ["rasa", "run", *args]
    host = _option(args, "-i", "--interface")
    if host is None:
        host = env.get("RASA_HOST") or DEFAULT_HOST
        argv += ["--interface", host]
    if not _given(args, "--cors"):
        argv += ["--cors", *Settings.from_env(dict(env)).public_origins]
    token = env.get("RASA_TOKEN") or ""
    if token:
        argv += ["--auth-token", token]
    elif _given(args, "--enable-api") and not _loopback(host):
        raise Refused(
            f"Rasa's HTTP API on {host} without RASA_TOKEN would let anyone drive any "
            "conversation: set RASA_TOKEN (make run makes one in var/secrets.env)"
        )
    return argv


def main() -> None:
    try:
        sys.argv = rasa_argv(sys.argv[1:], os.environ)
    except Refused as exc:
        sys.exit(f"rasa_server: {exc}")
    # On SIGTERM Sanic stops accepting and lets requests in flight (a customer's turn) finish,
    # by default for 15 s; the whole system stops within 10 s (README, "Stopping").
    os.environ.setdefault("SANIC_GRACEFUL_SHUTDOWN_TIMEOUT", str(SHUTDOWN_GRACE_SECONDS))
    from rasa.__main__ import main as rasa_main

    from rasa_ext import overrides

    overrides.apply()

    rasa_main()


def _too_late() -> None:
    sys.stderr.write(
        f"rasa_server: still stopping {STOP_DEADLINE_SECONDS:g} s after the stop signal "
        "(requests in flight under load); exiting now\n"
    )
    sys.stderr.flush()
    os._exit(1)


def start_stop_deadline(*_: Any) -> threading.Timer:
    """Sanic's `before_server_stop` listener: the process ends `STOP_DEADLINE_SECONDS` after
    the stop signal, whatever still runs. Sanic counts its grace in 0.1 s sleeps of the event
    loop, not in seconds: under load each sleep waits for the turns running on the loop, and a
    customer's next message on a kept-alive connection is still served meanwhile, so Rasa
    measured 20 s and more to stop under the fault benchmark's load."""
    timer = threading.Timer(STOP_DEADLINE_SECONDS, _too_late)
    timer.daemon = True
    timer.start()
    return timer


def with_stop_deadline(configure_app: Callable[..., Any]) -> Callable[..., Any]:
    """Rasa's app factory, adding `start_stop_deadline` through its own `server_listeners`."""

    def configure(*args: Any, **kwargs: Any) -> Any:
        listeners = list(kwargs.get("server_listeners") or [])
        kwargs["server_listeners"] = [*listeners, (start_stop_deadline, "before_server_stop")]
        return configure_app(*args, **kwargs)

    return configure


def exit_without_teardown() -> None:
    """End the process once Rasa's server has returned: Sanic has stopped, the requests in
    flight are answered and Rasa has closed its event broker (the tracker store commits every
    turn). What remains is the interpreter tearing TensorFlow down, measured at 5 to 8 s on a
    busy two-core machine, which would take the stop past the 10 s a process has."""
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    import rasa.core.run

    rasa.core.run.configure_app = with_stop_deadline(rasa.core.run.configure_app)
    main()
    exit_without_teardown()
