"""One running system (backend, action server, Rasa with the trained model) per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conversations.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack")).start()
    try:
        yield running
    finally:
        running.stop()
