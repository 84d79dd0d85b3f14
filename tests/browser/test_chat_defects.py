"""The web chat as a customer uses it on a phone (390x844, Chromium), issue 16:

- the first screen offers the common tasks as buttons, and "转人工" is always in the header;
- asking for a person says one thing: the place in the queue (the desk is open at the frozen
  10:00), never "转接" followed by "not in service hours";
- buttons of earlier questions cannot be clicked once the conversation moved on, also after a
  reload and once an agent joined;
- an agent joining is a notice ("人工客服 张敏 已接入"), the agent's messages are marked;
- messages carry their time; the security code is in groups of four and no reply leans on an
  emoji (this Chromium has no colour-emoji font: an emoji is an empty box here);
- axe-core finds no serious violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.demo import GENUINE_CODE
from tests.support.browser import (
    DESK,
    PHONE,
    SECONDS,
    log_in,
    open_chat,
    say,
    serious_violations,
    shot,
)
from tests.support.desk import create_account
from tests.support.stack import Stack

EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f]")


@pytest.fixture
def customer(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


def test_the_first_screen_offers_the_common_tasks(customer: Page, stack: Stack) -> None:
    open_chat(customer, stack.backend_url)
    tasks = customer.locator("#empty button")
    expect(tasks).to_have_text(["查保修", "预约维修", "故障排查", "防伪查询", "找网点", "转人工"])
    expect(customer.locator("header button", has_text="转人工")).to_be_visible()
    assert serious_violations(customer) == []
    shot(customer, "chat-first-screen")
    customer.locator("#empty button", has_text="防伪查询").click()
    # The customer's bubble is the task's name, and the bot asks for the code.
    expect(customer.locator(".msg.user .bubble")).to_have_text(["防伪查询"])
    expect(customer.locator(".msg.bot").last).to_contain_text("防伪码", timeout=SECONDS)
    say(customer, GENUINE_CODE)
    verdict = customer.locator(".msg.bot .bubble", has_text="验证通过")
    expect(verdict).to_contain_text("8861 2203 5540 9172", timeout=SECONDS)
    assert not EMOJI.search(verdict.inner_text())
    # Every message has its time.
    times = customer.locator(".msg .time")
    expect(times).to_have_count(customer.locator(".msg").count())
    expect(times.first).to_have_text(re.compile(r"^(\d+月\d+日 )?\d\d:\d\d$"))
    assert serious_violations(customer) == []
    shot(customer, "chat-code-verified")


def test_earlier_buttons_are_retired(customer: Page, stack: Stack) -> None:
    open_chat(customer, stack.backend_url)
    say(customer, "你好")
    expect(customer.locator(".msg.bot .choices button").first).to_be_visible(timeout=SECONDS)
    greeting_buttons = customer.locator(".msg.bot .choices button")
    count = greeting_buttons.count()
    say(customer, "我的打印机卡纸了")
    expect(customer.locator(".msg.bot")).not_to_have_count(1, timeout=SECONDS)
    for index in range(count):
        expect(greeting_buttons.nth(index)).to_be_disabled()
    # Also in the transcript a reload brings back.
    customer.reload()
    expect(customer.locator("#status")).to_have_attribute("data-state", "online", timeout=SECONDS)
    expect(customer.locator(".msg.user")).to_have_count(2, timeout=SECONDS)
    first_reply = customer.locator(".msg.bot").first
    for button in first_reply.locator(".choices button").all():
        expect(button).to_be_disabled()


def test_a_handoff_says_one_thing_and_the_agent_is_announced(
    customer: Page, browser: Browser, stack: Stack
) -> None:
    create_account(stack, "chat-ux", "张敏")
    open_chat(customer, stack.backend_url)
    say(customer, "我的平板充不进电")
    expect(customer.locator(".msg.bot").first).to_be_visible(timeout=SECONDS)
    say(customer, "转人工")
    last = customer.locator(".msg.bot").last
    expect(last).to_contain_text("转接", timeout=SECONDS)
    expect(last).to_contain_text(re.compile(r"排在第 \d+ 位"))
    customer.wait_for_timeout(2_000)
    expect(customer.locator("#log")).not_to_contain_text("不在人工客服的服务时间")

    desk = browser.new_context(**DESK)
    try:
        agent = desk.new_page()
        log_in(agent, stack.backend_url, "chat-ux")
        handoff = re.search(r"HO\d{8}-\d{4}", last.inner_text())
        assert handoff, last.inner_text()
        agent.locator(f'#list li[data-id="{handoff.group(0)}"]').click()
        agent.click("#claim")
        notice = customer.locator(".notice", has_text="已接入")
        expect(notice).to_have_text("人工客服 张敏 已接入", timeout=SECONDS)
        greeting = customer.locator(".msg.from-agent").last
        expect(greeting).to_contain_text("人工客服 张敏")
        # Nothing the bot offered before still looks like it can be used.
        expect(customer.locator(".choices button:not([disabled])")).to_have_count(0)
        agent.fill("#text", "您好，请问充电器指示灯亮吗？")
        agent.press("#text", "Enter")
        expect(customer.locator(".msg.from-agent").last).to_contain_text("指示灯", timeout=SECONDS)
        shot(customer, "chat-agent-joined")
        # The desk shows the greeting as the agent's, as the customer saw it.
        expect(agent.locator(".line.agent").first).to_contain_text("张敏", timeout=SECONDS)
        shot(agent, "desk-agent-joined")
    finally:
        desk.close()
