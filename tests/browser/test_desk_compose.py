"""The desk's composer and the chat page's photos (issue 16), in Chromium: the agent at
1440x900, the customer on a phone (390x844), against the running system.

- typing "/" in the desk's reply box lists the canned replies, filtered as the agent types;
  arrow keys and Enter pick one, Esc closes the list;
- the customer sends a photo from the chat page (camera or gallery input), the agent sees it
  in the transcript; the agent sends one back and the customer sees it;
- each side sees when the other is typing;
- a photo sent to the bot is acknowledged, a file of another type is refused on the page.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

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

AGENT = "desk-compose"


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


def picture(folder: Path, name: str, colour: tuple[int, int, int], kind: str = "JPEG") -> Path:
    """A phone photo: with EXIF (the maker), as cameras write them."""
    image = Image.new("RGB", (320, 240), colour)
    exif = Image.Exif()
    exif[0x010F] = "StarPhone-X9"
    out = io.BytesIO()
    image.save(out, kind, exif=exif.tobytes())
    path = folder / name
    path.write_bytes(out.getvalue())
    return path


def loaded(image: Locator) -> None:
    """The picture is really drawn (fetched with the right credentials), not a broken icon."""
    expect(image).to_be_visible(timeout=SECONDS)
    image.evaluate(
        "(img) => img.complete && img.naturalWidth > 0 || new Promise((ok, fail) =>"
        " { img.onload = ok; img.onerror = fail; })"
    )
    assert image.evaluate("(img) => img.naturalWidth") > 0


def held_by_agent(customer: Page, desk: BrowserContext, stack: Stack, words: str) -> Page:
    """The customer asks for a person; the agent opens and claims the conversation."""
    open_chat(customer, stack.backend_url)
    say(customer, words)
    expect(customer.locator(".msg.bot").last).to_contain_text("转接", timeout=SECONDS)
    agent = desk.new_page()
    log_in(agent, stack.backend_url, AGENT)
    agent.locator("#list li", has_text=words[:6]).first.click()
    expect(agent.locator("#transcript")).to_contain_text(words[:6], timeout=SECONDS)
    agent.click("#claim")
    expect(agent.locator("#send")).to_be_enabled(timeout=SECONDS)
    return agent


def test_slash_finds_a_canned_reply_by_keyboard(
    customer: Page, desk: BrowserContext, stack: Stack
) -> None:
    agent = held_by_agent(customer, desk, stack, "投影仪不亮了，我要转人工")
    box, popup = agent.locator("#text"), agent.locator("#canned-popup")
    box.click()
    agent.keyboard.type("/")
    expect(popup).to_be_visible(timeout=SECONDS)
    expect(popup.locator("li[role=option]")).to_have_count(7)
    expect(popup.locator("li.active")).to_contain_text("问候")
    assert serious_violations(agent) == []
    shot(agent, "desk-canned-slash")
    # Arrow down to the second, Enter puts its text in the box and does not send it.
    agent.keyboard.press("ArrowDown")
    expect(popup.locator("li.active")).to_contain_text("请稍等")
    expect(box).to_have_attribute("aria-activedescendant", "canned-1")
    agent.keyboard.press("Enter")
    expect(popup).to_be_hidden()
    expect(box).to_have_value("好的，我帮您查一下，请稍等一两分钟。")
    assert agent.locator(".line.agent", has_text="请稍等一两分钟").count() == 0

    # Filtered as the agent types, by title or words; the agent's name is filled in.
    box.fill("")
    agent.keyboard.type("/序列")
    expect(popup.locator("li[role=option]")).to_have_count(1)
    agent.keyboard.press("Enter")
    expect(box).to_have_value(
        "麻烦您提供一下设备的序列号（机身底部标签上 SN 开头的那串字母和数字），我帮您查保修。"
    )
    box.fill("")
    agent.keyboard.type("/问候")
    agent.keyboard.press("Enter")
    expect(box).to_have_value(
        "您好，我是星辰科技售后客服张敏，很高兴为您服务。请问有什么可以帮您？"
    )
    # Esc closes the list and leaves what was typed.
    box.fill("")
    agent.keyboard.type("/结束")
    expect(popup).to_be_visible()
    agent.keyboard.press("Escape")
    expect(popup).to_be_hidden()
    expect(box).to_have_value("/结束")
    # Nothing matches: said so; the picked reply is sent with Enter once the list is closed.
    box.fill("")
    agent.keyboard.type("/不存在的")
    expect(popup).to_contain_text("没有匹配的常用回复")
    box.fill("")
    agent.keyboard.type("/请稍")
    agent.keyboard.press("Enter")
    agent.keyboard.press("Enter")
    expect(customer.locator(".msg.bot").last).to_contain_text("请稍等一两分钟", timeout=SECONDS)


def test_photos_both_ways_and_typing_indicators(
    customer: Page, desk: BrowserContext, stack: Stack, tmp_path: Path
) -> None:
    agent = held_by_agent(customer, desk, stack, "打印机零件摔坏了，转人工")

    # The customer types: the desk says so. The agent types: the chat page says so.
    customer.fill("#input", "我拍张照片给你看")
    expect(agent.locator("#customer-typing")).to_have_text("客户正在输入…", timeout=SECONDS)
    agent.locator("#text").click()
    agent.keyboard.type("好的，请发")
    expect(customer.locator("#agent-typing")).to_have_text("客服正在输入…", timeout=SECONDS)
    shot(customer, "chat-agent-typing")
    expect(customer.locator("#agent-typing")).to_have_text("", timeout=SECONDS)
    agent.locator("#text").fill("")
    customer.fill("#input", "")

    # From the camera input (capture) or the gallery: the same upload.
    camera = customer.locator("#photo-camera")
    assert camera.get_attribute("accept") == "image/*" and camera.get_attribute("capture")
    customer.set_input_files("#photo-file", str(picture(tmp_path, "破损零件.jpg", (180, 40, 40))))
    mine = customer.locator(".msg.user .file img").last
    loaded(mine)
    assert serious_violations(customer) == []
    shot(customer, "chat-photo-sent")
    seen = agent.locator(".line.customer img.attachment-image").last
    loaded(seen)
    expect(agent.locator(".line.customer").last).to_contain_text("破损零件.jpg")
    assert serious_violations(agent) == []
    shot(agent, "desk-photo-received")

    # The agent answers with a photo of their own; the customer sees it, and so does the desk.
    agent.set_input_files(
        "#attach-file", str(picture(tmp_path, "wiring.png", (20, 90, 200), "PNG"))
    )
    theirs = customer.locator(".msg.bot.from-agent .file img").last
    loaded(theirs)
    shot(customer, "chat-photo-from-agent")
    loaded(agent.locator(".line.agent img.attachment-image").last)

    # After a reload the photos come back with the history.
    customer.reload()
    loaded(customer.locator(".msg.user .file img").last)
    loaded(customer.locator(".msg.bot .file img").last)


def test_a_photo_to_the_bot_is_acknowledged_and_other_files_are_refused(
    customer: Page, stack: Stack, tmp_path: Path
) -> None:
    open_chat(customer, stack.backend_url)
    customer.set_input_files("#photo-file", str(picture(tmp_path, "屏幕.jpg", (10, 10, 10))))
    loaded(customer.locator(".msg.user .file img").last)
    expect(customer.locator(".msg.bot").last).to_contain_text("收到您发来的图片", timeout=SECONDS)
    page = tmp_path / "page.html"
    page.write_text("<script>alert(1)</script>", encoding="utf-8")
    customer.set_input_files("#photo-file", str(page))
    expect(customer.locator(".notice").last).to_contain_text("只能发送照片")
