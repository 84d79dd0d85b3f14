"""The web chat page in Debian's Chromium, driven by Playwright, against the running system."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Page,
    WebSocketRoute,
    expect,
)

from bot.contracts.chat_tokens import read_token
from tests.support.browser import PHONE
from tests.support.chat import CHAT_SECRET, expired_token
from tests.support.stack import ROOT, Stack

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}
SCREENSHOTS = ROOT / "results" / "screenshots"
ASK_CODE = "16 位防伪码"
SOCKET = re.compile(r".*/socket\.io/.*")


def backend(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.backend_port}"


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(**PHONE)
    context.set_default_timeout(30_000)
    yield context
    context.close()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(**DESKTOP)
    context.set_default_timeout(30_000)
    yield context
    context.close()


def open_chat(page: Page, stack: Stack) -> None:
    page.goto(backend(stack) + "/")
    online(page)


def online(page: Page) -> None:
    expect(page.locator("#status")).to_have_attribute("data-state", "online")
    expect(page.locator("#status")).to_have_text("在线")


def say(page: Page, text: str) -> None:
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")


def bot_bubbles(page: Page) -> Any:
    return page.locator(".msg.bot .bubble")


def user_bubbles(page: Page) -> Any:
    return page.locator(".msg.user .bubble")


def session_of(page: Page) -> str:
    """The conversation id inside the page's token (its payload is readable, not forgeable)."""
    token = page.evaluate("localStorage.getItem('xingchen-webchat-token')")
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def push_agent_message(stack: Stack, session_id: str, event: dict[str, Any]) -> None:
    """What the support desk does: a bot event, delivered on the customer's latest channel."""
    request = urllib.request.Request(
        f"{stack.rasa_url}/conversations/{session_id}/tracker/events"
        "?output_channel=latest&execute_side_effects=true",
        data=json.dumps([event]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as reply:
        assert reply.status == 200


def test_a_customer_checks_a_security_code_on_a_phone(
    stack: Stack, phone: BrowserContext, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    page = phone.new_page()
    open_chat(page, stack)
    expect(page.locator("#empty")).to_be_visible()

    say(page, "帮我查一下防伪码")
    expect(bot_bubbles(page).last).to_contain_text(ASK_CODE)
    session = session_of(page)

    # Reloading mid-way keeps the conversation and shows it again.
    page.reload()
    online(page)
    expect(user_bubbles(page)).to_have_text(["帮我查一下防伪码"])
    expect(bot_bubbles(page)).to_have_count(1)
    expect(bot_bubbles(page).last).to_contain_text(ASK_CODE)
    assert session_of(page) == session

    say(page, "4409 1187 2265 0031")
    verdict = page.locator(".msg.bot").filter(has_text="已经被查询过")
    expect(verdict).to_have_count(1)
    verdict.get_by_role("button", name="之前是我自己查的").click()
    # The customer sees the button's title as their message, never its /intent payload.
    expect(user_bubbles(page).last).to_have_text("之前是我自己查的")
    expect(bot_bubbles(page).last).to_contain_text("请放心使用")
    expect(verdict.locator(".choices")).to_have_class(re.compile(r"\bused\b"))

    # Fits the phone: nothing wider than the screen, the input box big enough not to zoom.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    assert page.evaluate("getComputedStyle(document.getElementById('input')).fontSize") == "16px"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "webchat.png"))

    page.reload()
    online(page)
    expect(user_bubbles(page)).to_have_text(
        ["帮我查一下防伪码", "4409 1187 2265 0031", "之前是我自己查的"]
    )
    expect(bot_bubbles(page)).to_have_count(3)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nbrowser journey (phone, 3 turns, 2 reloads): {elapsed:.1f} s")


def test_enter_while_composing_chinese_does_not_send(stack: Stack, phone: BrowserContext) -> None:
    page = phone.new_page()
    open_chat(page, stack)
    box = page.locator("#input")
    box.focus()
    ime = phone.new_cdp_session(page)
    # Pinyin typed, candidate list open: Enter picks a candidate, it must not send.
    ime.send("Input.imeSetComposition", {"text": "fangwei", "selectionStart": 7, "selectionEnd": 7})
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    expect(page.locator(".msg.user")).to_have_count(0)
    ime.send("Input.insertText", {"text": "帮我查一下防伪码"})
    expect(box).to_have_value(re.compile(r"^\s*帮我查一下防伪码\s*$"))
    page.keyboard.press("Enter")
    expect(user_bubbles(page)).to_have_text(["帮我查一下防伪码"])
    expect(box).to_have_value("")
    expect(bot_bubbles(page).last).to_contain_text(ASK_CODE)
    # Shift+Enter is a new line, not a message.
    box.type("第一行")
    page.keyboard.press("Shift+Enter")
    box.type("第二行")
    expect(box).to_have_value("第一行\n第二行")
    expect(page.locator(".msg.user")).to_have_count(1)


def test_an_agent_message_arrives_escaped_with_its_link_and_image(
    stack: Stack, phone: BrowserContext
) -> None:
    page = phone.new_page()
    dialogs: list[str] = []

    def script_ran(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", script_ran)
    open_chat(page, stack)
    say(page, "你好")
    expect(bot_bubbles(page).last).to_contain_text("小星")
    text = "<b>您好</b><img src=x onerror=alert(1)> 说明书见 https://example.com/manual?a=1&b=2 。"
    push_agent_message(
        stack,
        session_of(page),
        {
            "event": "bot",
            "text": text,
            "data": {"image": backend(stack) + "/chat/icon.svg"},
            "metadata": {"desk_agent": "王工"},
        },
    )
    for _ in range(2):  # live, then from the transcript after a reload
        message = page.locator(".msg.bot").filter(has_text="说明书见")
        expect(message.locator(".bubble")).to_have_text(text)
        expect(message.locator(".agent")).to_have_text("人工客服 王工")
        link = message.locator(".bubble a")
        expect(link).to_have_attribute("href", "https://example.com/manual?a=1&b=2")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        expect(page.locator(".msg.bot b")).to_have_count(0)
        picture = page.locator(".msg.bot img.picture").last
        expect(picture).to_be_visible()
        assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
        assert page.locator("img[src='x']").count() == 0
        page.reload()
        online(page)
    assert dialogs == []


@pytest.fixture
def manufacturer_site(stack: Stack) -> Iterator[str]:
    """A page on another origin with nothing but the one embed tag."""
    html = (
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>某厂商官网</title>"
        "<h1>某厂商官网</h1>"
        f"<script src='{backend(stack)}/chat/widget.js' async></script></html>"
    ).encode()

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    # A real server on loopback: Chromium lets only a page from a local address load from the
    # chat's loopback address (Local Network Access), and a mocked page has no address.
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_one_script_tag_embeds_the_chat_on_a_manufacturers_site(
    stack: Stack, desktop: BrowserContext, manufacturer_site: str
) -> None:
    page = desktop.new_page()
    page.goto(manufacturer_site)
    launcher = page.locator("#xingchen-webchat-launcher")
    expect(launcher).to_have_text("在线客服")
    expect(page.locator("#xingchen-webchat-frame")).to_have_count(0)  # no session per page view
    launcher.click()
    frame = page.frame_locator("#xingchen-webchat-frame")
    online_in = frame.locator("#status")
    expect(online_in).to_have_attribute("data-state", "online")
    frame.locator("#input").fill("你好")
    frame.locator("#input").press("Enter")
    expect(frame.locator(".msg.bot .bubble").last).to_contain_text("小星")
    frame.locator(".msg.bot").last.get_by_role("button", name="防伪查询").click()
    expect(frame.locator(".msg.bot .bubble").last).to_contain_text(ASK_CODE)

    frame.locator("#close").click()
    expect(page.locator("#xingchen-webchat-frame")).to_be_hidden()
    launcher.click()
    expect(page.locator("#xingchen-webchat-frame")).to_be_visible()
    expect(frame.locator(".msg.user .bubble")).to_have_text(["你好", "防伪查询"])


def test_a_dropped_connection_shows_its_state_and_loses_nothing(
    stack: Stack, phone: BrowserContext
) -> None:
    page = phone.new_page()
    open_chat(page, stack)
    say(page, "你好")
    expect(bot_bubbles(page)).to_have_count(1)
    session = session_of(page)

    phone.set_offline(True)  # the phone loses its network
    expect(page.locator("#status")).to_have_text("重新连接中…")
    expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
    # Typed while offline: kept and sent on reconnect. Said meanwhile by an agent: fetched.
    say(page, "帮我查一下防伪码")
    expect(page.locator(".msg.user.pending")).to_have_count(1)
    push_agent_message(stack, session, {"event": "bot", "text": "您好，我是客服小王，在的。"})
    page.wait_for_timeout(1500)
    expect(bot_bubbles(page)).to_have_count(1)

    phone.set_offline(False)
    online(page)
    expect(bot_bubbles(page).filter(has_text="客服小王")).to_have_count(1)
    expect(bot_bubbles(page).filter(has_text=ASK_CODE)).to_have_count(1)
    expect(page.locator(".msg.user.pending, .msg.user.failed")).to_have_count(0)
    expect(user_bubbles(page)).to_have_text(["你好", "帮我查一下防伪码"])
    page.wait_for_timeout(1000)
    expect(bot_bubbles(page)).to_have_count(3)  # each message once, nothing repeated


def test_silence_gets_a_typing_indicator_then_a_notice(stack: Stack, phone: BrowserContext) -> None:
    page = phone.new_page()
    page.clock.install()

    def swallow_messages(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        # The customer's messages never reach the server (a broken proxy, say).
        def forward(message: str | bytes) -> None:
            if "user_uttered" not in str(message):
                server.send(message)

        ws.on_message(forward)

    page.route_web_socket(SOCKET, swallow_messages)
    open_chat(page, stack)
    say(page, "打印机卡纸怎么办")
    expect(page.locator(".typing")).to_be_visible()
    expect(page.locator(".notice")).to_have_count(0)
    page.clock.run_for(26_000)
    expect(page.locator(".notice")).to_contain_text("回复有点慢")
    expect(page.locator(".typing")).to_have_count(0)


def test_an_expired_session_starts_a_new_conversation(stack: Stack, phone: BrowserContext) -> None:
    stale = expired_token()
    page = phone.new_page()
    page.add_init_script(f"localStorage.setItem('xingchen-webchat-token', {json.dumps(stale)})")
    open_chat(page, stack)
    expect(page.locator(".notice")).to_contain_text("之前的会话已过期")
    assert session_of(page) != read_token(CHAT_SECRET, stale, now=0).session_id
    say(page, "你好")
    expect(bot_bubbles(page).last).to_contain_text("小星")


def test_the_page_says_so_when_the_chat_is_off(stack: Stack, phone: BrowserContext) -> None:
    page = phone.new_page()
    off = {"error": {"code": "chat_not_configured", "message": "CHAT_SECRET is not set"}}
    page.route(
        "**/api/chat/sessions",
        lambda route: route.fulfill(status=503, json=off),
    )
    page.goto(backend(stack) + "/")
    expect(page.locator("#status")).to_have_attribute("data-state", "unavailable")
    expect(page.locator("#status")).to_have_text("暂不可用")
    expect(page.locator(".notice")).to_contain_text("暂时无法使用")
    expect(page.locator("#send")).to_be_disabled()
