"""The web chat and the desk against the running system, in Debian's Chromium.

The system is the session's `stack` (tests/conftest.py), shared with the conversation tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Per module, not per session: sync Playwright keeps an event loop running in this thread
# while it is open, and the asyncio tests of other modules need the thread's loop to themselves.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (no browser download); `make browser` installs it."""
    if not CHROMIUM.exists() or not shutil.which("fc-list"):
        pytest.fail("Chromium or its fonts are missing: run scripts/install-browser.sh")
    # Replies and reconnects (socket.io backs off up to 5 s) take longer than expect's 5 s.
    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
