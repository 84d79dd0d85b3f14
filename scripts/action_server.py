"""Start the action server (rasa_sdk) so that only Rasa can call it.

    python scripts/action_server.py --actions actions --port 5055

Takes `rasa run actions`' options. Every request but `GET /health` must carry
`Authorization: Bearer $ACTIONS_TOKEN` (compared in constant time); Rasa sends it from the
`headers` of `action_endpoint` in endpoints.yml. Without a token the server does not start.
It listens on `ACTIONS_HOST`, by default 127.0.0.1 (Rasa on the same machine); set
`ACTIONS_HOST=0.0.0.0` for action servers behind a load balancer.

rasa_sdk's own `run()` cannot take a middleware (its plugin hook needs a package named
`rasa_sdk_plugins` on the path, which would fail open when missing), so this builds the same
app with rasa_sdk's `create_app` and adds the check itself.
"""

from __future__ import annotations

import hmac
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

MIN_TOKEN_CHARS = 32
DEFAULT_HOST = "127.0.0.1"
# On SIGTERM Sanic stops accepting and lets the actions in flight finish, by default for 15 s;
# the whole system stops within 10 s (README, "Stopping"). SANIC_GRACEFUL_SHUTDOWN_TIMEOUT wins.
SHUTDOWN_GRACE_SECONDS = 5
OPEN_PATHS = frozenset({"/health"})


def token_check(token: str) -> Callable[[Any], Awaitable[Any]]:
    """A Sanic request middleware that answers 401 unless the bearer token is `token`."""
    from sanic import response

    expected = f"Bearer {token}".encode()

    async def check(request: Any) -> Any:
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get("Authorization") or "").strip().encode()
        if not hmac.compare_digest(given, expected):
            return response.json({"error": "unauthorized"}, status=401)
        return None

    return check


async def _close_backend_client(app: Any, loop: Any) -> None:
    """On SIGTERM, once the actions in flight have finished: close the backend client's
    connections (else every stop logs an unclosed aiohttp session)."""
    from actions.common import close_client

    await close_client()


def create_app(actions: str, token: str, cors: list[str] | None = None) -> Any:
    from rasa_sdk.endpoint import create_app as sdk_app
    from rasa_sdk.plugin import plugin_manager

    app = sdk_app(actions, cors_origins=cors or "")
    app.register_middleware(token_check(token), "request")
    app.register_listener(_close_backend_client, "after_server_stop")
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


def main(argv: list[str] | None = None) -> None:
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_argument_parser, create_ssl_context

    args = create_argument_parser().parse_args(argv)
    os.environ.setdefault("SANIC_GRACEFUL_SHUTDOWN_TIMEOUT", str(SHUTDOWN_GRACE_SECONDS))
    # The actions package and bot/ import from the project's root, as under `rasa run actions`.
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
    token = os.environ.get("ACTIONS_TOKEN") or ""
    if len(token) < MIN_TOKEN_CHARS:
        sys.exit(
            f"action_server: ACTIONS_TOKEN must be set, at least {MIN_TOKEN_CHARS} characters "
            "(make run makes one in var/secrets.env; Rasa sends it from endpoints.yml)"
        )
    # As rasa_sdk's own main does.
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
        args.log_file,
        args.loglevel,
        args.logging_config_file,
    )
    utils.update_sanic_log_level()
    app = create_app(args.actions, token, args.cors)
    ssl = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = os.environ.get("ACTIONS_HOST") or DEFAULT_HOST
    logging.getLogger(__name__).info("Action server on %s:%s (token required)", host, args.port)
    app.run(host, args.port, ssl=ssl, workers=utils.number_of_sanic_workers())


if __name__ == "__main__":
    main()
