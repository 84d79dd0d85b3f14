"""The desk page when something is down: a banner says Rasa is unreachable, and a backend
restart (SIGTERM, then a new process on the same port) closes the page's live connection with
1001 and the page reconnects by itself.

The backend alone, without Rasa: no trained model or stack needed (still slow: Chromium).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.backend import BackendProcess, backend_env, desk_user, start_backend
from tests.support.inflight import exit_after, terminate

PASSWORD = "a-long-desk-password"
SECONDS = 20_000  # Playwright waits in milliseconds


@pytest.fixture
def backends() -> Iterator[list[BackendProcess]]:
    started: list[BackendProcess] = []
    yield started
    for backend in started:
        backend.kill()


def test_the_banner_and_the_reconnect_after_a_restart(
    browser: Browser, database_url: str, tmp_path: Path, backends: list[BackendProcess]
) -> None:
    env = backend_env(database_url, tmp_path)
    desk_user(env, "desk-faults", "周宁", PASSWORD)
    backend = start_backend(env, tmp_path / "backend.log")
    backends.append(backend)

    page = browser.new_context().new_page()
    page.goto(f"{backend.url}/desk/")
    page.fill("input[name=username]", "desk-faults")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")
    expect(page.locator("#live")).to_have_class("live on", timeout=SECONDS)
    expect(page.locator("#banner")).to_be_visible(timeout=SECONDS)
    expect(page.locator("#banner")).to_contain_text("智能助手（Rasa）暂时连不上")

    took = exit_after(backend.process, terminate(backend.process))
    assert backend.process.returncode == 0 and took < 10, backend.output()
    assert "desk: closed 1 websocket(s)" in backend.output()
    expect(page.locator("#live")).to_have_class("live off", timeout=SECONDS)

    backends.append(start_backend(env, tmp_path / "backend.log"))
    expect(page.locator("#live")).to_have_class("live on", timeout=SECONDS)
