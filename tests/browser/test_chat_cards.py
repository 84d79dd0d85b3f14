"""The web chat's cards and the agent's rating on a phone (390x844, Chromium), issue 16:

- the 三包 verdict is a card: the remedies with their last days (weekday included), the legal
  basis folded behind a toggle;
- a booking ends with a confirmation card: the work-order number copies to the clipboard, the
  station has a tel: link and a map link, and "加入日历" downloads an .ics file that parses;
- the locator's stations are cards with a tel: link and a map link;
- when the agent closes the conversation, the customer rates the agent with one tap, and a
  supervisor sees the score;
- axe-core finds no serious violation on the cards.

The stack's clock is frozen on Friday 2026-11-20 10:00 (tests/support/stack.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

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
from tests.support.desk import create_account
from tests.support.stack import Stack

WEEKDAY = re.compile(r"周[一二三四五六日]")


@pytest.fixture
def customer(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        **PHONE, accept_downloads=True, permissions=["clipboard-read", "clipboard-write"]
    )
    yield context.new_page()
    context.close()


def answered(page: Page, text: str, expected: str) -> None:
    """The customer says `text`; the bot's latest message comes to contain `expected`."""
    count = page.locator(".msg.bot").count()
    say(page, text)
    expect(page.locator(".msg.bot")).not_to_have_count(count, timeout=SECONDS)
    expect(page.locator(".msg.bot").last).to_contain_text(expected, timeout=SECONDS)


def unfolded(ics: str) -> dict[str, str]:
    """The properties of an .ics file's lines (RFC 5545: CRLF ends, a leading space folds)."""
    assert ics.endswith("\r\n") and "\n" not in ics.replace("\r\n", "")
    lines = ics.replace("\r\n ", "").split("\r\n")
    return dict(line.split(":", 1) for line in lines if ":" in line)


def test_the_warranty_verdict_is_a_card(customer: Page, stack: Stack) -> None:
    open_chat(customer, stack.backend_url)
    customer.locator("#empty button", has_text="查保修").click()
    expect(customer.locator(".msg.bot").last).to_contain_text("序列号", timeout=SECONDS)
    say(customer, "PF2K7Q9A")
    card = customer.locator(".card.result.verdict")
    expect(card).to_be_visible(timeout=SECONDS)
    expect(card.locator(".card-title")).to_have_text("保修结论")
    expect(card).to_contain_text("PF2K7Q9A")
    remedies = card.locator(".remedy")
    expect(remedies).to_have_count(3)
    expect(remedies.first).to_have_text("退货（截至11月24日 周二）")
    expect(remedies.nth(1)).to_have_attribute("data-until", "2026-12-02")
    # The basis is folded: there, not shown, until asked for.
    basis = card.locator("details.basis")
    expect(basis).not_to_have_attribute("open", "")
    expect(basis.locator("p").first).to_be_hidden()
    assert serious_violations(customer) == []
    shot(customer, "chat-card-verdict")
    basis.locator("summary").click()
    expect(basis.locator("p").first).to_be_visible()
    expect(basis.locator("p").first).to_contain_text("依据：")
    # The card stands instead of the text, the offer to book follows as before.
    expect(customer.locator(".msg.bot", has=card).locator(".bubble")).to_have_count(0)
    expect(customer.locator(".msg.bot").last).to_contain_text("预约维修")
    shot(customer, "chat-card-verdict-basis")
    # A reload draws the same card from the history.
    customer.reload()
    expect(customer.locator(".card.result.verdict .remedy")).to_have_count(3, timeout=SECONDS)


def test_a_booking_ends_with_its_confirmation_card(customer: Page, stack: Stack) -> None:
    open_chat(customer, stack.backend_url)
    answered(customer, "我想预约维修", "哪种方式")
    customer.locator(".msg.bot").last.locator("button", has_text="送修到服务站").click()
    expect(customer.locator(".msg.bot").last).to_contain_text("序列号", timeout=SECONDS)
    answered(customer, "序列号是PF8M3X6T", "故障")
    answered(customer, "屏幕一直闪，有横条纹", "城市")
    answered(customer, "北京", "服务站")
    stations = customer.locator(".msg.bot").last.locator(".choices button")
    stations.first.click()
    expect(customer.locator(".msg.bot").last).to_contain_text("时间段", timeout=SECONDS)
    # The slots offered say their day: 今天 for this afternoon, the weekday always.
    slots = customer.locator(".msg.bot").last.locator(".choices button")
    expect(slots.first).to_have_text(
        re.compile(r"^(今天|明天) \d+月\d+日 周[一二三四五六日] \d\d:\d\d-\d\d:\d\d$")
    )
    answered(customer, "尽快吧", "电话")
    answered(customer, "13812345678", "确认")
    confirm = customer.locator(".msg.bot").last
    expect(confirm).to_contain_text(WEEKDAY)
    confirm.locator("button", has_text="确认提交").click()

    card = customer.locator(".card.result.booking")
    expect(card).to_be_visible(timeout=SECONDS)
    number = card.locator(".work-order")
    expect(number).to_have_text(re.compile(r"^WO20261120-\d{4}$"))
    work_order = number.inner_text()
    expect(card).to_contain_text(WEEKDAY)
    call = card.locator("a.call")
    expect(call).to_have_attribute("href", re.compile(r"^tel:[\d+]+$"))
    expect(card.locator("a.map")).to_have_attribute(
        "href", re.compile(r"^https://uri\.amap\.com/search\?keyword=")
    )
    expect(card.locator("a.map")).to_have_attribute("target", "_blank")
    assert serious_violations(customer) == []
    shot(customer, "chat-card-booking")

    card.locator("button.copy").click()
    expect(card.locator("button.copy")).to_have_text("已复制")
    assert customer.evaluate("navigator.clipboard.readText()") == work_order

    with customer.expect_download() as download:
        card.locator("a.calendar").click()
    assert download.value.suggested_filename == f"{work_order}.ics"
    ics = Path(download.value.path()).read_bytes().decode("utf-8")
    event = unfolded(ics)
    lines = ics.split("\r\n")
    assert (lines[0], lines[-2]) == ("BEGIN:VCALENDAR", "END:VCALENDAR")
    assert lines.count("BEGIN:VEVENT") == 1 and lines.count("END:VEVENT") == 1
    assert event["VERSION"] == "2.0"
    assert work_order in event["SUMMARY"] and work_order in event["UID"]
    # 13:30 or later in Shanghai on the frozen Friday or after, written in UTC.
    assert re.fullmatch(r"2026112\dT\d{6}Z", event["DTSTART"]), event["DTSTART"]
    assert event["DTEND"] > event["DTSTART"]
    assert "北京" in event["LOCATION"] or "北京" in event["DESCRIPTION"]


def test_the_locator_shows_station_cards(customer: Page, stack: Stack) -> None:
    open_chat(customer, stack.backend_url)
    customer.locator("#empty button", has_text="找网点").click()
    expect(customer.locator(".msg.bot").last).to_contain_text("城市", timeout=SECONDS)
    say(customer, "深圳")
    cards = customer.locator(".card.result.station")
    expect(cards.first).to_be_visible(timeout=SECONDS)
    assert cards.count() >= 1
    for index in range(cards.count()):
        card = cards.nth(index)
        expect(card.locator("a.call")).to_have_attribute("href", re.compile(r"^tel:[\d+]+$"))
        expect(card.locator("a.map")).to_have_attribute(
            "href", re.compile(r"^https://uri\.amap\.com/marker\?position=")
        )
        expect(card).to_contain_text("深圳")
    assert serious_violations(customer) == []
    shot(customer, "chat-card-stations")


def test_the_customer_rates_the_agent_with_one_tap(
    customer: Page, browser: Browser, stack: Stack
) -> None:
    create_account(stack, "rated-agent", "刘洋")
    create_account(stack, "rating-boss", "周静", "supervisor")
    open_chat(customer, stack.backend_url)
    say(customer, "打印机一直卡纸")
    expect(customer.locator(".msg.bot").first).to_be_visible(timeout=SECONDS)
    say(customer, "转人工")
    waiting = customer.locator(".msg.bot").last
    expect(waiting).to_contain_text(re.compile(r"HO\d{8}-\d{4}"), timeout=SECONDS)
    handoff = re.search(r"HO\d{8}-\d{4}", waiting.inner_text())
    assert handoff

    desk = browser.new_context(**DESK)
    try:
        agent = desk.new_page()
        log_in(agent, stack.backend_url, "rated-agent")
        agent.locator(f'#list li[data-id="{handoff.group(0)}"]').click()
        agent.click("#claim")
        expect(customer.locator(".notice", has_text="已接入")).to_be_visible(timeout=SECONDS)
        agent.fill("#text", "卡纸的问题已经帮您登记好了。")
        agent.press("#text", "Enter")
        expect(customer.locator(".msg.from-agent").last).to_contain_text("登记", timeout=SECONDS)
        expect(agent.locator("#close")).to_be_enabled(timeout=SECONDS)
        agent.click("#close")

        rating = customer.locator(".card.result.rating")
        expect(rating).to_be_visible(timeout=SECONDS)
        expect(rating.locator("button.score")).to_have_count(5)
        # The goodbye is said as text too: the card asks, the text says the service ended.
        expect(customer.locator(".msg.bot", has=rating).locator(".bubble")).to_contain_text("结束")
        assert serious_violations(customer) == []
        shot(customer, "chat-agent-rating")
        rating.locator("button.score", has_text="4").click()
        expect(rating.locator(".rating-status")).to_have_text("谢谢您的评价！", timeout=SECONDS)
        expect(rating.locator('button.score[aria-pressed="true"]')).to_have_text("4 分")
        shot(customer, "chat-agent-rated")
        # After a reload the card remembers the tap.
        customer.reload()
        again = customer.locator(".card.result.rating")
        expect(again.locator('button.score[aria-pressed="true"]')).to_have_text(
            "4 分", timeout=SECONDS
        )

    finally:
        desk.close()
    supervisor = browser.new_context(**DESK)
    try:
        boss = supervisor.new_page()
        log_in(boss, stack.backend_url, "rating-boss")
        ratings = boss.evaluate(
            "fetch('/desk/api/agent-ratings', {credentials: 'same-origin'}).then(r => r.json())"
        )
        assert {"handoff_id": handoff.group(0), "agent": "刘洋", "score": 4} in [
            {k: line[k] for k in ("handoff_id", "agent", "score")} for line in ratings["recent"]
        ]
    finally:
        supervisor.close()
