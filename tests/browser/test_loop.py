"""The whole after-sales loop in Chromium, on a stack of its own (its backend is restarted
with a later frozen clock to reach the 回访's day):

a customer books a repair in the web chat on a phone; the station accepts it on the station
console and takes it to closed; the customer's open page shows each notice live, then the
survey's buttons; a 2 is a complaint the desk's supervisor finds; three days later the bot asks
the 回访 question on the page, and the next day the unanswered 回访 is on the desk's task list.
Also: a notice written twice (a worker killed between sending and marking) shows once, live
and after a reload. Screenshots go to var/screenshots/loop-*.png.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.backend import desk_user
from tests.support.browser import DESK, PHONE, SECONDS, shot
from tests.support.browser import log_in as desk_log_in
from tests.support.chat import WEBCHAT_ENV
from tests.support.database import API_HEADERS, STAFF_USER
from tests.support.desk import create_account
from tests.support.stack import FROZEN_AT, Stack

PASSWORD = "a-long-station-password"
BOOKED = re.compile(r"WO\d{8}-\d{4}")
# The steps a drop-off repair goes through on the console, and what the customer reads of each.
STEPS = (
    ("received", "已接机", "已收到您的设备"),
    ("diagnosing", "检测中", None),
    ("waiting_parts", "等待配件", "正在等待配件"),
    ("repaired", "已修好", "的设备已修好"),
    ("ready_for_pickup", "待取机", "可以取机了"),
    ("closed", "已完成", "已完结"),
)


def later(**delta: float) -> str:
    return (datetime.fromisoformat(FROZEN_AT) + timedelta(**delta)).isoformat()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The system with the survey going out at once and the worker polling often."""
    env = WEBCHAT_ENV | {"BOT_CSAT_DELAY_MINUTES": "0", "BOT_OUTBOX_POLL_MS": "200"}
    started = Stack(tmp_path_factory.mktemp("loop"), extra_env=env).start()
    try:
        create_account(started, STAFF_USER, "网点主管", "supervisor")
        yield started
    finally:
        started.stop()


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(**PHONE)
    context.set_default_timeout(30_000)
    yield context
    context.close()


def api(stack: Stack, method: str, path: str, body: Any = None) -> Any:
    """The internal API as a named supervisor (X-Staff-User) would call it."""
    request = urllib.request.Request(
        f"{stack.backend_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers=API_HEADERS | {"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=20) as reply:
        return json.load(reply)


def say(page: Page, text: str) -> None:
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")


def last_bot(page: Page) -> Any:
    return page.locator(".msg.bot").last


def open_chat(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.backend_url}/")
    expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=SECONDS)


def session_of(page: Page) -> str:
    token = page.evaluate("localStorage.getItem('xingchen-webchat-token')")
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


# What the customer answers to each question of the booking form (the last bot message's
# text), as scripts/replay_customers.py answers: ("say", text) or ("click", a button's title).
ANSWERS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile("请确认|确认提交"), "say", "没问题"),
    (re.compile("时间段|哪天|几点"), "say", "尽快吧"),
    (re.compile("服务站"), "click", ""),
    (re.compile("方式"), "click", "送修"),
    (re.compile("序列号"), "say", "序列号是PF8M3X6T"),
    (re.compile("城市"), "say", "北京"),
    (re.compile("电话"), "say", "13812345678"),
    (re.compile("故障|问题"), "say", "屏幕一直闪，有横条纹"),
)


def answer(page: Page, act: Any) -> None:
    """Do `act` and wait until the bot's reply (all its messages) is on the page."""
    before = page.locator(".msg.bot").count()
    act()
    page.wait_for_function(
        "n => document.querySelectorAll('.msg.bot').length > n", arg=before, timeout=SECONDS
    )
    page.wait_for_timeout(800)  # a reply may be several messages


def book_in_chat(page: Page) -> str:
    """A drop-off booking typed and clicked on the page, the form's questions in any order."""
    answer(page, lambda: say(page, "我想预约维修"))
    for _ in range(14):
        # The booking ends with its confirmation card, which stands instead of the text
        # (chat-cards.js): the work-order number is the card's.
        card = page.locator(".msg.bot").last.locator(".card.result.booking")
        if card.count():
            number = card.locator(".work-order").inner_text()
            assert BOOKED.fullmatch(number), f"no work-order number on the card: {number!r}"
            return number
        # The question's words, not its buttons' titles ("送修到服务站" is no station question).
        text = "\n".join(page.locator(".msg.bot").last.locator(".bubble").all_inner_texts())
        step = next(((h, v) for pattern, h, v in ANSWERS if pattern.search(text)), None)
        if step is None:
            raise AssertionError(f"an unexpected question in the booking: {text!r}")
        how, value = step
        if how == "say":
            answer(page, partial(say, page, value))
        else:
            buttons = page.locator(".msg.bot").last.locator("button")
            button = buttons.filter(has_text=value).first if value else buttons.first
            answer(page, button.click)
    raise AssertionError(f"no booking: {page.locator('.msg.bot').last.inner_text()}")


def station_login(page: Page, stack: Stack, username: str) -> None:
    page.goto(f"{stack.backend_url}/station/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")
    expect(page.locator("#station")).not_to_be_empty(timeout=SECONDS)


def notice_on(page: Page, part: str) -> None:
    """The notice is on the customer's page, once."""
    expect(page.locator(".msg.bot .bubble", has_text=part)).to_have_count(1, timeout=SECONDS)


def test_the_whole_loop_from_a_booking_in_the_chat_to_the_followup_task(
    stack: Stack, phone: BrowserContext, browser: Browser
) -> None:
    customer = phone.new_page()
    open_chat(customer, stack)
    order_id = book_in_chat(customer)
    shot(customer, "loop-1-booked")
    order = api(stack, "GET", f"/api/workorders/{order_id}")
    assert order["channel"] == "webchat" and order["conversation_id"] == session_of(customer)
    code = str(order["station"]["code"])
    desk_user(stack.env, "station-staff", "服务站前台", PASSWORD, role="station", station=code)

    console = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    station_login(console, stack, "station-staff")
    console.locator("#list li", has_text=order_id).click()
    expect(console.locator("#package")).to_contain_text("屏幕一直闪")
    console.fill("#engineer", "李工")
    console.click("#accept")
    expect(console.locator("#order-title")).to_contain_text("已接单", timeout=SECONDS)
    notice_on(customer, "我们会按时为您服务")
    for status, label, told in STEPS:
        console.select_option("#next", status)
        console.fill("#note", f"{label}（全流程测试）")
        if status == "closed":
            console.fill("#root-cause", "backlight_failure")
            console.fill("#fix", "replace_lcd_panel")
        console.click("#step")
        expect(console.locator("#order-title")).to_contain_text(label, timeout=SECONDS)
        if told is not None:
            notice_on(customer, told)
    shot(console, "loop-2-station-closed")

    # The survey, live on the open page, with its five scores.
    survey = customer.locator(".msg.bot", has_text="请为这次服务打个分")
    expect(survey).to_have_count(1, timeout=SECONDS)
    expect(survey.locator("button")).to_have_count(5)
    shot(customer, "loop-3-survey")
    survey.locator("button", has_text="2分").click()
    expect(last_bot(customer)).to_contain_text("还有什么想对我们说的", timeout=SECONDS)
    say(customer, "等太久了")
    # The low score is a complaint: the customer is told its number and by when (utter_rating_low).
    recorded = customer.locator(".msg.bot", has_text="已登记投诉")
    expect(recorded).to_have_count(1, timeout=SECONDS)
    shot(customer, "loop-4-rated")
    assert api(stack, "GET", f"/api/workorders/{order_id}")["rating"] == 2
    complaints = api(stack, "GET", f"/api/complaints?conversation_id={session_of(customer)}")
    assert [(c["work_order_id"], c["status"]) for c in complaints] == [(order_id, "open")]
    assert "等太久了" in complaints[0]["text"]
    expect(recorded).to_contain_text(f"编号 {complaints[0]['id']}")

    # Three days on (the backend restarted on a later clock): the bot asks the 回访 question.
    stack.restart_backend({"BOT_CLOCK": later(days=3, minutes=5)})
    notice_on(customer, "星辰售后回访")
    shot(customer, "loop-5-followup")
    # No answer by the next day: the 回访 is on the desk's list of today's calls.
    stack.restart_backend({"BOT_CLOCK": later(days=4, hours=1)})
    desk = browser.new_context(**DESK).new_page()
    desk_log_in(desk, stack.backend_url, STAFF_USER)
    tasks = desk.evaluate(
        "async () => (await fetch('/desk/api/followups?due=today', {cache: 'no-store'})).json()"
    )
    assert [(t["work_order_id"], t["status"]) for t in tasks] == [(order_id, "scheduled")]
    assert tasks[0]["asked_at"] is not None


def push(stack: Stack, session_id: str, event: dict[str, Any]) -> None:
    """A bot event on the customer's latest channel, as the outbox's sender writes it."""
    request = urllib.request.Request(
        f"{stack.rasa_url}/conversations/{session_id}/tracker/events"
        "?output_channel=latest&execute_side_effects=true",
        data=json.dumps([event]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as reply:
        assert reply.status == 200


def test_a_notice_sent_twice_shows_once_live_and_after_a_reload(
    stack: Stack, phone: BrowserContext
) -> None:
    page = phone.new_page()
    open_chat(page, stack)
    say(page, "你好")
    expect(page.locator(".msg.bot").first).to_be_visible(timeout=SECONDS)
    session = session_of(page)
    text = "工单 WO20261120-9999：中关村服务站已收到您的设备，工程师会尽快检测。"
    notice = {
        "event": "bot",
        "text": text,
        "metadata": {"notice_key": "WO20261120-9999:received:1"},
    }
    sent = time.time()
    # The first send; then the same notice again after a crash, with a new timestamp (the
    # page cannot tell them apart by time).
    push(stack, session, notice | {"timestamp": sent})
    expect(page.locator(".bubble", has_text=text)).to_have_count(1, timeout=SECONDS)
    push(stack, session, notice | {"timestamp": sent + 1})
    other = "工单 WO20261120-9999：检测完成，正在等待配件，到货后会第一时间为您维修。"
    push(stack, session, {"event": "bot", "text": other, "metadata": {"notice_key": "x:w:1"}})
    expect(page.locator(".bubble", has_text=other)).to_have_count(1, timeout=SECONDS)
    expect(page.locator(".bubble", has_text=text)).to_have_count(1)
    page.reload()
    expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=SECONDS)
    expect(page.locator(".bubble", has_text=other)).to_have_count(1, timeout=SECONDS)
    expect(page.locator(".bubble", has_text=text)).to_have_count(1)
    shot(page, "loop-6-notice-once")
    # Reloaded once more without its transcript (the history request fails): a third copy
    # arriving live is still dropped, the page remembers the key; a new notice is shown.
    page.route("**/webhooks/webchat/history", lambda route: route.abort())
    page.reload()
    expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=SECONDS)
    push(stack, session, notice | {"timestamp": sent + 2})
    fresh = "工单 WO20261120-9999 的设备已修好。"
    push(stack, session, {"event": "bot", "text": fresh, "metadata": {"notice_key": "x:r:1"}})
    expect(page.locator(".bubble", has_text=fresh)).to_have_count(1, timeout=SECONDS)
    expect(page.locator(".bubble", has_text=text)).to_have_count(0)
