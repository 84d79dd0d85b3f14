"""The desk as an agent uses it all day (issue 16's defects), at 1440x900 in Chromium, with a
customer on the web chat in another browser context:

- the agent sees every line of a bot turn and what the customer clicked, not the payload;
- a conversation opens at its latest message;
- what the agent types while a reply is on its way stays in the box;
- the queue is reachable by keyboard, "发送" stays on one line, borders and the live indicator
  have WCAG contrast and the indicator says its state in words;
- the agent's greeting shows as the agent's;
- axe-core finds no serious violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.support.browser import (
    DESK,
    PHONE,
    SECONDS,
    contrast,
    log_in,
    open_chat,
    say,
    serious_violations,
    shot,
)
from tests.support.desk import create_account
from tests.support.stack import Stack

AGENT = "desk-ux"


@pytest.fixture
def customer(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


@pytest.fixture
def desk(browser: Browser, stack: Stack) -> Iterator[BrowserContext]:
    create_account(stack, AGENT, "张敏")
    context = browser.new_context(**DESK)
    yield context
    context.close()


def warranty_then_person(customer: Page, stack: Stack) -> None:
    """A verdict (several lines in one bot turn), a click on its "预约维修", then a person."""
    open_chat(customer, stack.backend_url)
    say(customer, "查保修")
    expect(customer.locator(".msg.bot").last).to_contain_text("序列号", timeout=SECONDS)
    say(customer, "PF8M3X6T")
    expect(customer.locator(".msg.bot", has_text="依据")).to_have_count(1, timeout=SECONDS)
    customer.locator(".choices:not(.used) button", has_text="预约维修").click()
    expect(customer.locator(".msg.user").last).to_have_text(re.compile("预约维修"))
    replies = customer.locator(".msg.bot").count()
    expect(customer.locator(".msg.bot")).not_to_have_count(replies, timeout=SECONDS)
    say(customer, "转人工")
    expect(customer.locator(".msg.bot").last).to_contain_text("转接", timeout=SECONDS)


def asks_for_a_person(customer: Page, stack: Stack, words: str) -> None:
    open_chat(customer, stack.backend_url)
    say(customer, words)
    expect(customer.locator(".msg.bot").last).to_contain_text("转接", timeout=SECONDS)


def open_latest(agent: Page, text: str) -> None:
    agent.locator("#list li", has_text=text).first.click()
    expect(agent.locator("#transcript")).to_contain_text(text, timeout=SECONDS)


def test_the_agent_sees_what_the_customer_saw_from_the_latest_line(
    customer: Page, desk: BrowserContext, stack: Stack
) -> None:
    warranty_then_person(customer, stack)
    agent = desk.new_page()
    log_in(agent, stack.backend_url, AGENT)
    open_latest(agent, "PF8M3X6T")
    transcript = agent.locator("#transcript")
    # Every line of the verdict's turn, as the customer had them (defect 1).
    for words in ("可以享受", "依据", "需要的话我可以马上帮您预约维修"):
        expect(transcript).to_contain_text(words)
    shown = [
        text.strip()
        for text in customer.locator(".msg.bot .bubble").all_inner_texts()
        if text.strip()
    ]
    on_desk = agent.locator(".line.bot .text").all_inner_texts()
    assert [line for line in shown if line not in on_desk] == []
    # What the customer clicked, not the payload (defect 2).
    customer_lines = agent.locator(".line.customer .text").all_inner_texts()
    assert "预约维修" in customer_lines and "转人工" in customer_lines
    assert not [line for line in customer_lines if line.startswith("/")]
    # Opened at the latest message (defect 4).
    assert agent.evaluate(
        "() => { const t = document.querySelector('#transcript');"
        " return t.scrollHeight > t.clientHeight"
        " && t.scrollTop + t.clientHeight >= t.scrollHeight - 2; }"
    )
    shot(agent, "desk-verdict-transcript")


def test_typing_during_a_send_is_kept(customer: Page, desk: BrowserContext, stack: Stack) -> None:
    asks_for_a_person(customer, stack, "我的笔记本风扇声音很大，我要转人工")
    agent = desk.new_page()
    log_in(agent, stack.backend_url, AGENT)
    open_latest(agent, "风扇声音很大")
    agent.click("#claim")
    expect(agent.locator("#send")).to_be_enabled(timeout=SECONDS)

    held: list[Route] = []
    agent.route("**/desk/api/handoffs/*/messages", lambda route: held.append(route))
    agent.fill("#text", "您好，请问风扇是一直响还是开机时响？")
    agent.press("#text", "Enter")
    for _ in range(100):
        if held:
            break
        agent.wait_for_timeout(50)
    assert held, "the reply never left the page"
    # While the first reply is on its way the agent starts the next one (defect 3).
    agent.fill("#text", "另外，设备买了多久了？")
    held[0].continue_()
    expect(customer.locator(".msg.bot").last).to_contain_text("开机时响", timeout=SECONDS)
    agent.wait_for_timeout(300)
    expect(agent.locator("#text")).to_have_value("另外，设备买了多久了？")
    # The customer sees the agent's greeting and replies as the agent's (defect 8, desk side).
    expect(agent.locator(".line.agent").first).to_contain_text("张敏")


def test_the_queue_by_keyboard_and_contrast(
    customer: Page, desk: BrowserContext, stack: Stack
) -> None:
    asks_for_a_person(customer, stack, "打印机出纸有黑条，转人工")
    agent = desk.new_page()
    agent.goto(f"{stack.backend_url}/desk/")
    expect(agent.locator("#login-form")).to_be_visible(timeout=SECONDS)
    offline_words = agent.locator("#live").text_content()
    log_in(agent, stack.backend_url, AGENT)
    expect(agent.locator("#list li", has_text="黑条").first).to_be_visible(timeout=SECONDS)

    # From the queue's tab, Tab reaches the waiting customers and Enter opens one (defect 5).
    agent.locator(".tabs button").first.focus()
    for _ in range(10):
        agent.keyboard.press("Tab")
        if agent.evaluate("() => !!document.activeElement.closest('#list li')"):
            break
    assert agent.evaluate("() => !!document.activeElement.closest('#list li')")
    agent.keyboard.press("Enter")
    expect(agent.locator("#conversation")).to_be_visible(timeout=SECONDS)

    # "发送" on one line.
    lines = agent.evaluate(
        "() => { const r = document.createRange();"
        " r.selectNodeContents(document.querySelector('#send'));"
        " return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size; }"
    )
    assert lines == 1
    # Non-text contrast of input borders (WCAG 1.4.11) and text contrast of the indicator.
    assert contrast(agent, "#text", "borderTopColor") >= 3
    assert contrast(agent, "#live") >= 4.5
    # Not by colour alone: connected and disconnected read differently.
    assert agent.locator("#live").text_content() != offline_words
    shot(agent, "desk-queue-keyboard")


def test_no_serious_accessibility_violations_on_the_desk(
    customer: Page, desk: BrowserContext, stack: Stack
) -> None:
    asks_for_a_person(customer, stack, "显示器闪屏，转人工")
    agent = desk.new_page()
    agent.goto(f"{stack.backend_url}/desk/")
    expect(agent.locator("#login-form")).to_be_visible(timeout=SECONDS)
    assert serious_violations(agent) == []
    log_in(agent, stack.backend_url, AGENT)
    open_latest(agent, "显示器闪屏")
    assert serious_violations(agent) == []
    shot(agent, "desk-conversation")
