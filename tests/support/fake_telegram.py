"""A fake Telegram Bot API server on loopback, for the Telegram channel's tests.

python-telegram-bot talks to it through its `base_url` (TELEGRAM_API_URL) over real HTTP. It
implements just the methods the channel and the polling script call, records every request,
hands out queued updates to getUpdates, and can be told to fail a method (flood control, a
customer who blocked the bot). It runs in a thread with its own event loop, so a Rasa process
started by the session's `Stack` and every test's own loop can reach it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456789:fake-token-for-tests"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "星辰售后", "username": "xc_help_bot"}
# Parameters python-telegram-bot sends JSON-encoded inside the form.
JSON_FIELDS = {"reply_markup", "allowed_updates"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    failed: bool = False
    # When the request reached the server (time.monotonic): the pacing tests read it.
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = 0
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] = {}
        self._updates: list[dict[str, Any]] = []
        # Files customers sent, by file_id: getFile names them, /file/bot<token>/… serves them.
        self.files: dict[str, bytes] = {}
        self._failures: dict[str, list[Failure]] = {}
        self._delays: dict[str, float] = {}
        self._message_ids = itertools.count(1000)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    # --- running ---------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/photos/{file_id}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # Requests still held open (a delayed method, a long poll) end with the server.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    @property
    def api_url(self) -> str:
        """The `base_url` for python-telegram-bot (the token is appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def env(self) -> dict[str, str]:
        return {
            "TELEGRAM_TOKEN": self.token,
            "TELEGRAM_SECRET_TOKEN": "test-secret_0123456789",
            "TELEGRAM_API_URL": self.api_url,
        }

    # --- what tests use --------------------------------------------------------------------

    def queue_update(self, update: dict[str, Any]) -> None:
        with self._lock:
            self._updates.append(update)

    def pending_updates(self) -> list[int]:
        with self._lock:
            return [u["update_id"] for u in self._updates]

    def fail(self, method: str, failure: Failure, times: int = 1) -> None:
        with self._lock:
            self._failures.setdefault(method, []).extend([failure] * times)

    def delay(self, method: str, seconds: float) -> None:
        """Answer this method only after `seconds` (0 to stop delaying)."""
        with self._lock:
            self._delays[method] = seconds

    def recorded(self, method: str | None = None, chat_id: int | str | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if (method is None or c.method == method)
                and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
            ]

    def texts(self, chat_id: int | str) -> list[str]:
        """The texts the customer got (failed calls left out)."""
        return [
            str(c.params["text"]) for c in self.recorded("sendMessage", chat_id) if not c.failed
        ]

    def wait_for(
        self, predicate: Callable[[], bool], seconds: float = 30, what: str = "a request"
    ) -> None:
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"the fake Telegram server never saw {what}")
            time.sleep(0.05)

    # --- the Bot API -----------------------------------------------------------------------

    def add_file(self, file_id: str, data: bytes) -> None:
        with self._lock:
            self.files[file_id] = data

    async def _file(self, request: web.Request) -> web.Response:
        with self._lock:
            data = self.files.get(request.match_info["file_id"])
            self.calls.append(Call("file", {"file_id": request.match_info["file_id"]}))
        if request.match_info["token"] != self.token or data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _fail(Failure(401, "Unauthorized"))
        method = request.match_info["method"]
        params = await _params(request)
        with self._lock:
            queued = self._failures.get(method)
            failure = queued.pop(0) if queued else None
            self.calls.append(Call(method, params, failed=failure is not None))
            delay = self._delays.get(method, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if failure:
            return _fail(failure)
        if method == "getUpdates":
            return await self._get_updates(params)
        answer = self._answer(method, params)
        if answer is None:
            return _fail(Failure(404, "Not Found"))
        return web.json_response({"ok": True, "result": answer})

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getFile":
            file_id = str(params.get("file_id"))
            if file_id not in self.files:
                return None
            return {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(self.files[file_id]),
                "file_path": f"photos/{file_id}",
            }
        if method in ("sendMessage", "sendPhoto", "sendDocument"):
            chat_id = int(params["chat_id"])
            message: dict[str, Any] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
            }
            if method == "sendMessage":
                message["text"] = params["text"]
            elif method == "sendDocument":
                message["document"] = {"file_id": "d1", "file_unique_id": "d1"}
            else:
                message["photo"] = [
                    {"file_id": "p1", "file_unique_id": "p1", "width": 1, "height": 1}
                ]
            if "reply_markup" in params:
                message["reply_markup"] = params["reply_markup"]
            return message
        if method in ("sendChatAction", "answerCallbackQuery", "deleteWebhook"):
            if method == "deleteWebhook":
                self.webhook = {}
            return True
        if method == "setWebhook":
            self.webhook = params
            return True
        if method == "getWebhookInfo":
            return {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
        return None

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset", 0))
        limit = int(params.get("limit", 100))
        # Like Telegram: asking for an offset confirms (forgets) every update before it.
        deadline = time.monotonic() + min(float(params.get("timeout", 0)), 2.0)
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                found = self._updates[:limit]
            if found or time.monotonic() >= deadline:
                return web.json_response({"ok": True, "result": found})
            await asyncio.sleep(0.05)


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            # An uploaded photo or document: what arrived, not the bytes.
            params[key] = {"filename": value.filename, "size": len(value.file.read())}
            continue
        text = value if isinstance(value, str) else ""
        params[key] = json.loads(text) if key in JSON_FIELDS else text
    return params


def _fail(failure: Failure) -> web.Response:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": failure.status,
        "description": failure.description,
    }
    if failure.retry_after is not None:
        body["parameters"] = {"retry_after": failure.retry_after}
    return web.json_response(body, status=failure.status)
