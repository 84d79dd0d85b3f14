"""One running system (backend, action server, Rasa with the trained model) per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.chat import WEBCHAT_ENV
from tests.conversations.fake_telegram import FakeTelegram
from tests.conversations.stack import Stack


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[FakeTelegram]:
    """The Bot API server the stack's Telegram channel talks to (started before the stack)."""
    server = FakeTelegram().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_telegram: FakeTelegram) -> Iterator[Stack]:
    running = Stack(
        tmp_path_factory.mktemp("stack"), extra_env=fake_telegram.env | WEBCHAT_ENV
    ).start()
    try:
        yield running
    finally:
        running.stop()
