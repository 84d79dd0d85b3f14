"""The desk tells an agent who looks elsewhere, and works from the keyboard (issue 16):

- a new waiting customer and a new message in a conversation the agent holds (but is not
  looking at) raise a browser notification (permission granted in the test's context) and
  the tab title counts the waiting customers;
- the shortcuts are listed on the page, and J/K, C, R and Esc do what the list says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import DESK, PHONE, SECONDS, log_in, open_chat, say, shot
from tests.support.desk import create_account
from tests.support.stack import Stack

# Every notification the page raises, kept where the test can read it.
RECORD_NOTIFICATIONS = """
window.__shown = [];
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options) {
    window.__shown.push({ title, body: (options && options.body) || "" });
    super(title, options);
  }
};
"""


@pytest.fixture
def pages(browser: Browser, stack: Stack) -> Iterator[dict[str, Page]]:
    create_account(stack, "desk-alerts", "李强")
    desk = browser.new_context(**DESK, permissions=["notifications"])
    desk.add_init_script(RECORD_NOTIFICATIONS)
    first, second = browser.new_context(**PHONE), browser.new_context(**PHONE)
    yield {"agent": desk.new_page(), "first": first.new_page(), "second": second.new_page()}
    for context in (desk, first, second):
        context.close()


def shown(agent: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = agent.evaluate("() => window.__shown")
    return found


def wait_for_notification(agent: Page, title: str) -> dict[str, Any]:
    for _ in range(200):
        found = [n for n in shown(agent) if n["title"] == title]
        if found:
            return found[-1]
        agent.wait_for_timeout(100)
    raise AssertionError(f"no notification {title!r}; got {shown(agent)}")


def test_notifications_title_and_shortcuts(pages: dict[str, Page], stack: Stack) -> None:
    agent, first, second = pages["agent"], pages["first"], pages["second"]
    log_in(agent, stack.backend_url, "desk-alerts")
    expect(agent.locator("#alerts")).to_have_text("桌面提醒：已开启")
    expect(agent.locator("#keys summary")).to_have_text("键盘快捷键")

    open_chat(first, stack.backend_url)
    say(first, "路由器老是掉线，帮我转人工")
    expect(first.locator(".msg.bot").last).to_contain_text("转接", timeout=SECONDS)
    wait_for_notification(agent, "新客户在排队")
    expect(agent).to_have_title(re.compile(r"^\(\d+\) "), timeout=SECONDS)

    # Keyboard only: J opens a conversation of the queue, and so on to the one just waiting.
    agent.locator("body").press("Escape")
    agent.keyboard.press("j")
    expect(agent.locator("#conversation")).to_be_visible(timeout=SECONDS)
    for _ in range(30):
        if "路由器" in agent.locator("#transcript").inner_text():
            break
        agent.keyboard.press("j")
        agent.wait_for_timeout(300)
    expect(agent.locator("#transcript")).to_contain_text("路由器")
    agent.keyboard.press("c")
    expect(first.locator(".notice")).to_contain_text("李强 已接入", timeout=SECONDS)
    agent.keyboard.press("r")
    expect(agent.locator("#text")).to_be_focused()
    agent.keyboard.press("j")  # a letter in the reply box stays a letter
    expect(agent.locator("#text")).to_have_value("j")
    agent.keyboard.press("Escape")
    expect(agent.locator("#text")).not_to_be_focused()
    agent.fill("#text", "")

    # While the agent looks at another customer, the held one writes.
    open_chat(second, stack.backend_url)
    say(second, "耳机没声音了，转人工")
    expect(second.locator(".msg.bot").last).to_contain_text("转接", timeout=SECONDS)
    agent.locator("#list li", has_text="耳机").first.click()
    expect(agent.locator("#transcript")).to_contain_text("耳机", timeout=SECONDS)
    say(first, "我重启过路由器了，还是不行")
    message = wait_for_notification(agent, "客户发来新消息")
    assert "重启过路由器" in message["body"]
    agent.locator("#keys summary").click()
    shot(agent, "desk-alerts-and-keys")
