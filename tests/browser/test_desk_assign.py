"""Response timers, transfer with a note and the work-order tools on the desk, in Chromium
(issue 16):

- each waiting customer's first-response timer turns amber, then red, and says so in words;
  on the open conversation it stops when the agent answers;
- an agent hands a conversation to a colleague with a note, and the colleague sees the note
  on the item and in the conversation;
- the booking form comes filled in from the handoff package and the conversation, the station
  and the slot are picked from what is free, and the new order is moved along from a list.

The stack's clock is frozen (BOT_CLOCK), so the page's own clock (Playwright's) is moved.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.browser import DESK, PHONE, SECONDS, contrast, log_in, open_chat, say, shot
from tests.support.database import API_TOKEN
from tests.support.desk import create_account
from tests.support.stack import Stack


@pytest.fixture
def contexts(browser: Browser, stack: Stack) -> Iterator[dict[str, BrowserContext]]:
    create_account(stack, "assign-zhang", "张敏")
    create_account(stack, "assign-li", "李强")
    made = {
        "zhang": browser.new_context(**DESK),
        "li": browser.new_context(**DESK),
        "customer": browser.new_context(**PHONE),
    }
    yield made
    for context in made.values():
        context.close()


def ask_for_person(customer: Page, text: str) -> None:
    """The customer asks for a person; if the bot answers first (an advice with a "转人工"
    button), the customer presses the button."""
    say(customer, text)
    reply = customer.locator(".msg.bot").last
    expect(reply).to_contain_text(re.compile("转接|转人工"), timeout=SECONDS)
    if "转接" not in reply.inner_text():
        reply.get_by_role("button", name="转人工").click()
    expect(customer.locator(".msg.bot").last).to_contain_text("转接", timeout=SECONDS)


def hand_off(context: BrowserContext, stack: Stack, conversation: str, **package: Any) -> str:
    """A handoff as the handoff action opens it, with the slots the bot had gathered."""
    slots = [
        {"event": "slot", "name": "address", "value": "北京市海淀区中关村大街27号5号楼501"},
        {"event": "slot", "name": "city", "value": "北京"},
    ]
    reply = context.request.post(
        f"{stack.rasa_url}/conversations/{conversation}/tracker/events", data=slots
    )
    assert reply.ok, reply.text()
    reply = context.request.post(
        f"{stack.backend_url}/api/handoffs",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        data={
            "conversation_id": conversation,
            "channel": "rest",
            "reason": "requested",
            "package": package,
        },
    )
    assert reply.status == 201, reply.text()
    return str(reply.json()["id"])


def test_first_response_timer_turns_amber_then_red_and_stops_on_the_answer(
    contexts: dict[str, BrowserContext], stack: Stack
) -> None:
    agent, customer = contexts["zhang"].new_page(), contexts["customer"].new_page()
    agent.clock.install()
    open_chat(customer, stack.backend_url)
    ask_for_person(customer, "显示器一直闪屏，帮我转人工")
    log_in(agent, stack.backend_url, "assign-zhang")

    item = agent.locator("#list li", has_text="闪屏").first
    timer = item.locator(".sla")
    expect(timer).to_have_attribute("data-level", "ok", timeout=SECONDS)
    expect(timer).to_contain_text("首次响应剩")
    agent.clock.fast_forward("01:35")  # 95 s of the 120 s target: past the 75 % mark
    expect(timer).to_have_attribute("data-level", "warn")
    expect(timer).to_contain_text("即将超时")
    shot(agent, "desk-sla-amber")
    agent.clock.fast_forward("00:30")
    expect(timer).to_have_attribute("data-level", "late")
    expect(timer).to_contain_text("首次响应已超时")
    assert contrast(agent, "#list .sla-late") >= 4.5
    shot(agent, "desk-sla-timers")

    item.click()
    # The frozen server counts no time: opening restarts the page's count from its answer.
    expect(agent.locator("#sla-current")).to_have_attribute("data-level", "ok", timeout=SECONDS)
    expect(agent.locator("#transcript")).to_contain_text("闪屏")
    agent.clock.fast_forward("02:05")
    expect(agent.locator("#sla-current")).to_have_attribute("data-level", "late")
    expect(agent.locator("#sla-current")).to_contain_text("首次响应已超时")
    agent.click("#claim")
    expect(agent.locator("#claim")).to_be_hidden(timeout=SECONDS)
    agent.fill("#text", "您好，我是张敏，我来帮您看看闪屏的问题")
    agent.click("#send")
    # Answered: the timer stops, on the conversation and on its item.
    expect(agent.locator("#sla-current")).to_be_hidden(timeout=SECONDS)
    agent.locator(".tabs button[data-scope=mine]").click()
    expect(agent.locator("#list li", has_text="闪屏").first.locator(".sla")).to_have_count(0)


def test_transfer_with_a_note_the_colleague_sees(
    contexts: dict[str, BrowserContext], stack: Stack
) -> None:
    zhang, li = contexts["zhang"].new_page(), contexts["li"].new_page()
    customer = contexts["customer"].new_page()
    open_chat(customer, stack.backend_url)
    ask_for_person(customer, "笔记本键盘有几个键按了没反应，帮我转人工")
    log_in(zhang, stack.backend_url, "assign-zhang")
    log_in(li, stack.backend_url, "assign-li")

    zhang.locator("#list li", has_text="键盘").first.click()
    zhang.click("#claim")
    expect(zhang.locator("#claim")).to_be_hidden(timeout=SECONDS)
    # Teams are offered besides colleagues.
    expect(zhang.locator("#transfer-to optgroup.teams option")).to_have_count(3)
    zhang.select_option("#transfer-to", label="李强")
    zhang.fill("#transfer-reason", "键盘进过水，请安排送修检测，客户下午在家")
    zhang.click("#transfer")
    expect(zhang.locator("#action-error")).to_have_text("")

    li.locator(".tabs button[data-scope=mine]").click()
    item = li.locator("#list li", has_text="键盘").first
    expect(item.locator(".transfer-note")).to_contain_text(
        "转接备注（张敏）：键盘进过水", timeout=SECONDS
    )
    item.click()
    expect(li.locator("#transfer-note")).to_contain_text("张敏 转接时留言：键盘进过水")
    expect(li.locator("#transcript")).to_contain_text("键盘")
    shot(li, "desk-transfer-note")


def test_booking_form_is_filled_in_and_the_order_moves_from_a_list(
    contexts: dict[str, BrowserContext], stack: Stack
) -> None:
    agent = contexts["zhang"].new_page()
    hand_off(
        contexts["zhang"],
        stack,
        "assign-booking-1",
        contact="13912345678",
        serial="PF2K7Q9A",
        model_code="XB14",
        fault="开机无显示，电源灯亮",
        customer_name="王先生",
    )
    log_in(agent, stack.backend_url, "assign-zhang")
    agent.locator("#list li", has_text="开机无显示").first.click()
    agent.click("#claim")
    expect(agent.locator("#claim")).to_be_hidden(timeout=SECONDS)
    agent.locator("#actions details summary", has_text="维修工单").click()

    form = agent.locator("#workorder-form")
    expect(form.locator("input[name=serial]")).to_have_value("PF2K7Q9A", timeout=SECONDS)
    expect(form.locator("input[name=fault]")).to_have_value("开机无显示，电源灯亮")
    expect(form.locator("#wo-phone-masked")).to_have_text("139****5678")
    expect(form.locator("#wo-address-masked")).to_have_text("北京市海淀区中关村大街**")
    expect(form.locator("input[name=phone_on_file]")).to_be_checked()
    # Stations that repair laptops, the customer's city first; slots only where places are free.
    first_station = form.locator("#wo-station option").nth(1)
    expect(first_station).to_contain_text("北京")
    form.locator("#wo-station").select_option(index=1)
    expect(form.locator("#wo-slot option").nth(1)).to_contain_text("余", timeout=SECONDS)
    form.locator("#wo-slot").select_option(index=1)
    form.locator("select[name=kind]").select_option("on_site")
    shot(agent, "desk-booking-prefilled")
    form.locator("button[type=submit]").click()
    expect(agent.locator("#action-error")).to_have_text("")

    # The new order is in the list; its possible next steps only; no id typed.
    order = agent.locator("#wo-order option").nth(1)
    expect(order).to_contain_text("WO", timeout=SECONDS)
    steps = agent.locator("#step-form select[name=to] option")
    expect(steps.first).to_have_attribute("value", "accepted")
    agent.locator("#step-form button[type=submit]").click()
    expect(agent.locator("#transcript")).to_contain_text("→ accepted", timeout=SECONDS)
    expect(agent.locator("#wo-order option").nth(1)).to_contain_text(
        "服务站已接单", timeout=SECONDS
    )
    shot(agent, "desk-order-steps")
