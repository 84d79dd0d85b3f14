"""The customer beside the conversation, and finding a closed conversation again (issue 16), at
1440x900 in Chromium, with a customer on the web chat:

- waiting, the panel asks to claim first; held, it shows the customer (masked phone), the
  device with the 三包 engine's verdict, the work order (opening it fills the status form) and
  the complaint;
- "F" opens the search, which finds the closed conversation by its work order and by the
  whole phone number (shown masked); a closed conversation opens from the results and is
  reopened, held by the agent;
- axe-core finds no serious violation with the panel and with the search open.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

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
from tests.support.database import API_TOKEN
from tests.support.desk import create_account
from tests.support.stack import Stack

AGENT = "desk-ctx"
SERIAL = "PF4N9C2H"  # a demo device bought 400 days ago (bot.demo)
ORDER_PHONE = "13512340987"
FULL_MOBILE = re.compile(r"1[3-9][0-9](?:[\s-]?[0-9]){8}")
INTERNAL = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def pages(browser: Browser, stack: Stack) -> Iterator[dict[str, Page]]:
    create_account(stack, AGENT, "赵磊")
    desk = browser.new_context(**DESK)
    chat = browser.new_context(**PHONE)
    yield {"agent": desk.new_page(), "customer": chat.new_page()}
    desk.close()
    chat.close()


def _internal(page: Page, stack: Stack, method: str, path: str, body: Any = None) -> Any:
    """The internal API, as the action server calls it (booking, complaints)."""
    reply = page.request.fetch(
        f"{stack.backend_url}{path}", method=method, headers=INTERNAL, data=body
    )
    assert reply.ok, (path, reply.status, reply.text())
    return reply.json()


def _books_and_complains(agent: Page, stack: Stack, conversation: str) -> tuple[str, str]:
    """What the bot would have done for this customer: a repair booked, then a complaint."""
    slots = _internal(agent, stack, "GET", "/api/stations/BJ01/slots?days=14")
    slot = next(s for s in slots if s["free"] > 0)
    order = _internal(
        agent,
        stack,
        "POST",
        "/api/workorders",
        {
            "kind": "drop_off",
            "serial": SERIAL,
            "fault": "卡纸后无法开机",
            "station_code": "BJ01",
            "slot_date": slot["date"],
            "slot_start": slot["start"],
            "phone": ORDER_PHONE,
            "conversation_id": conversation,
            "channel": "webchat",
        },
    )
    complaint = _internal(
        agent,
        stack,
        "POST",
        "/api/complaints",
        {
            "text": "等了三天还没人联系我",
            "conversation_id": conversation,
            "channel": "webchat",
            "work_order_id": order["id"],
        },
    )
    return str(order["id"]), str(complaint["id"])


def test_the_panel_search_and_reopen(pages: dict[str, Page], stack: Stack) -> None:
    agent, customer = pages["agent"], pages["customer"]
    open_chat(customer, stack.backend_url)
    say(customer, "打印机卡纸后开不了机，转人工")
    expect(customer.locator(".msg.bot").last).to_contain_text("转接", timeout=SECONDS)

    log_in(agent, stack.backend_url, AGENT)
    agent.locator("#list li", has_text="开不了机").first.click()
    expect(agent.locator("#context")).to_contain_text("接入会话后显示客户资料", timeout=SECONDS)
    agent.click("#claim")
    expect(agent.locator("#package")).to_contain_text("处理中", timeout=SECONDS)
    mine = agent.request.get(f"{stack.backend_url}/desk/api/handoffs?scope=mine").json()
    held = next(
        i
        for i in mine
        if "开不了机" in (i["package"].get("last_message") or "")
        or "开不了机" in (i["package"].get("fault") or "")
    )
    order, complaint = _books_and_complains(agent, stack, held["conversation_id"])

    # Opened again (from "my conversations"), the panel shows what the service knows.
    agent.click('.tabs button[data-scope="mine"]')
    agent.locator("#list li", has_text="开不了机").first.click()
    panel = agent.locator("#context")
    expect(panel).to_contain_text(SERIAL, timeout=SECONDS)
    expect(panel.locator(".ctx-warranty").first).to_have_text(
        re.compile("可退货|可换货|免费维修|付费维修")
    )
    expect(panel).to_contain_text(order)
    expect(panel).to_contain_text(complaint)
    expect(panel).to_contain_text("历次会话（1）")
    panel.locator(f".ctx-order[data-id='{order}'] summary").click()
    expect(panel).to_contain_text("135****0987")
    expect(agent.locator("#step-form [name=order]")).to_have_value(order)
    panel.locator(".ctx-device summary").first.click()
    assert FULL_MOBILE.findall(panel.inner_text()) == []
    assert serious_violations(agent) == []
    shot(agent, "desk-context-panel")

    agent.click("#close")
    expect(agent.locator("#package")).to_contain_text("已结束", timeout=SECONDS)

    # "F" opens the search; the closed conversation is found by its order and by the phone.
    agent.locator("#transcript").click()
    agent.keyboard.press("f")
    expect(agent.locator("#search")).to_be_visible()
    expect(agent.locator("#search-q")).to_be_focused()
    agent.fill("#search-q", order)
    agent.press("#search-q", "Enter")
    result = agent.locator("#search-results li", has_text=held["id"])
    expect(result).to_have_count(1, timeout=SECONDS)
    expect(result).to_contain_text("已结束")
    agent.fill("#search-q", "135-1234-0987")
    agent.select_option("#search-form [name=status]", "closed")
    agent.press("#search-q", "Enter")
    expect(agent.locator("#search-summary")).to_contain_text("共 1 条", timeout=SECONDS)
    assert FULL_MOBILE.findall(agent.locator("#search").inner_text()) == []
    agent.fill("#search-q", "0987")
    agent.press("#search-q", "Enter")
    expect(agent.locator("#search-error")).to_contain_text("完整的电话号码")
    agent.fill("#search-q", order)
    agent.press("#search-q", "Enter")
    expect(result).to_have_count(1, timeout=SECONDS)
    assert serious_violations(agent) == []
    shot(agent, "desk-search")

    # Opened from the results, the closed conversation is reopened and held at once.
    result.locator("button").click()
    expect(agent.locator("#search")).to_be_hidden()
    expect(agent.locator("#reopen")).to_be_visible(timeout=SECONDS)
    agent.click("#reopen-hold")
    expect(agent.locator("#package")).to_contain_text("赵磊 处理中", timeout=SECONDS)
    expect(agent.locator("#reopen")).to_be_hidden()
    expect(customer.locator(".msg").last).to_contain_text("赵磊", timeout=SECONDS)
    shot(agent, "desk-reopened")


def test_search_is_listed_with_the_shortcuts(pages: dict[str, Page], stack: Stack) -> None:
    agent = pages["agent"]
    log_in(agent, stack.backend_url, AGENT)
    agent.click("#keys summary")
    expect(agent.locator("#keys dl")).to_contain_text("查找会话")
    agent.keyboard.press("Escape")
    agent.keyboard.press("Control+k")
    expect(agent.locator("#search")).to_be_visible()
    agent.keyboard.press("Escape")
    expect(agent.locator("#search")).to_be_hidden()
