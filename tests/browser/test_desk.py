"""The support desk in a real browser, with a customer on the web chat in another browser
context: the customer asks for a person, an agent logs in, claims, replies, the customer sees
it, the agent hands back, and the bot answers the customer's next message.
"""

from __future__ import annotations

import time

from playwright.sync_api import Browser, Page, expect

from tests.support.desk import PASSWORD, create_account
from tests.support.stack import ROOT, Stack

SCREENSHOTS = ROOT / "results" / "screenshots"
SECONDS = 10_000  # Playwright waits in milliseconds


def say(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")


def test_an_agent_takes_over_and_hands_back(stack: Stack, browser: Browser) -> None:
    started = time.monotonic()
    create_account(stack, "desk-browser", "陈静")
    customer = browser.new_context(viewport={"width": 390, "height": 780}).new_page()
    customer.goto(f"{stack.backend_url}/")
    expect(customer.locator("#status")).to_have_attribute("data-state", "online", timeout=SECONDS)
    say(customer, "我的打印机一直卡纸")
    expect(customer.locator(".msg.bot").first).to_be_visible(timeout=SECONDS)
    say(customer, "转人工")
    expect(customer.locator(".msg.bot").last).to_contain_text("转接", timeout=SECONDS)

    agent = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    agent.goto(f"{stack.backend_url}/desk/")
    agent.fill("input[name=username]", "desk-browser")
    agent.fill("input[name=password]", PASSWORD)
    agent.click("#login-form button")
    expect(agent.locator("#live")).to_have_class("live on", timeout=SECONDS)
    # The waiting conversation is in the queue with its package and transcript.
    agent.locator("#list li", has_text="打印机").first.click()
    expect(agent.locator("#package")).to_contain_text("客户要求")
    expect(agent.locator("#transcript")).to_contain_text("我的打印机一直卡纸")

    agent.click("#claim")
    expect(customer.locator(".msg.bot").last).to_contain_text("陈静", timeout=SECONDS)
    # Live both ways, no reload on either side.
    say(customer, "纸放进去就卡住")
    expect(agent.locator("#transcript")).to_contain_text("纸放进去就卡住", timeout=SECONDS)
    agent.fill("#text", "请打开后盖，轻轻取出卡住的纸")
    agent.press("#text", "Enter")
    expect(customer.locator(".msg.bot").last).to_contain_text("取出卡住的纸", timeout=SECONDS)
    # A private note stays on the desk.
    agent.check("#as-note")
    agent.fill("#text", "客户操作不熟练，耐心一些")
    agent.click("#send")
    expect(agent.locator(".line.note")).to_contain_text("耐心一些", timeout=SECONDS)
    agent.uncheck("#as-note")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    agent.screenshot(path=str(SCREENSHOTS / "desk.png"))
    agent.click("#handback")
    expect(customer.locator(".msg.bot").last).to_contain_text("智能助手", timeout=SECONDS)
    replies = customer.locator(".msg.bot").count()
    say(customer, "谢谢")
    expect(customer.locator(".msg.bot")).to_have_count(replies + 1, timeout=SECONDS)
    expect(customer.locator(".msg.bot").last).not_to_contain_text("耐心一些")
    customer.screenshot(path=str(SCREENSHOTS / "desk-customer.png"))
    print(f"desk browser test: {time.monotonic() - started:.1f} s")


def test_the_console_needs_a_login(stack: Stack, browser: Browser) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{stack.backend_url}/desk/")
    expect(page.locator("#login-form")).to_be_visible(timeout=SECONDS)
    page.fill("input[name=username]", "desk-browser")
    page.fill("input[name=password]", "wrong-password!")
    page.click("#login-form button")
    expect(page.locator("#login-error")).to_contain_text("不对", timeout=SECONDS)
    expect(page.locator("#desk")).to_be_hidden()
