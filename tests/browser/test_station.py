"""The station console in Chromium: a station's staff member logs in, finds a booking that
has just been made, accepts it with an engineer and takes it through its life cycle to
closed (with the coded outcome); a supervisor sees the stations' panel on the desk.

The backend alone, without Rasa: no trained model or stack needed (still slow: Chromium).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.backend import BackendProcess, backend_env, desk_user, start_backend
from tests.support.database import API_TOKEN

PASSWORD = "a-long-station-password"
SECONDS = 20_000  # Playwright waits in milliseconds


@pytest.fixture
def backend(database_url: str, tmp_path: Path) -> Iterator[BackendProcess]:
    env = backend_env(database_url, tmp_path)
    desk_user(env, "bj01-front", "中关村前台", PASSWORD, role="station", station="bj01")
    desk_user(env, "boss", "王芳", PASSWORD, role="supervisor")
    started = start_backend(env, tmp_path / "backend.log")
    yield started
    started.kill()


OUTCOME = {"root_cause": "backlight_failure", "fix": "replace_lcd_panel"}


def internal(backend: BackendProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The internal API, as the action server (and a named supervisor for staff routes)."""
    request = urllib.request.Request(
        f"{backend.url}{path}",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {API_TOKEN}",
            "X-Staff-User": "boss",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        answer: dict[str, Any] = json.load(reply)
        return answer


def book(backend: BackendProcess, start: str = "10:30") -> dict[str, Any]:
    """What the booking action does, through the internal API."""
    return internal(
        backend,
        "/api/workorders",
        {
            "kind": "drop_off",
            "model_code": "XB14",
            "fault": "屏幕闪烁后黑屏",
            "steps_tried": ["重启", "外接显示器正常"],
            "station_code": "BJ01",
            "error_code": "P-088",
            "slot_date": "2026-11-21",
            "slot_start": start,
            "customer_name": "刘女士",
            "phone": "13900139000",
        },
    )


def repaired_earlier(backend: BackendProcess, start: str) -> None:
    """An earlier repair of the same fault, closed with the same outcome."""
    order = book(backend, start)["id"]
    for to in ("received", "diagnosing", "repaired", "closed"):
        step = {"to": to, "actor": "station:BJ01"} | (
            {"outcome": OUTCOME} if to == "closed" else {}
        )
        internal(backend, f"/api/workorders/{order}/transitions", step)


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")


def test_a_station_accepts_a_booking_and_closes_it(
    browser: Browser, backend: BackendProcess, tmp_path: Path
) -> None:
    # Two earlier repairs of this model and error code: a third with the same fix drafts a case.
    for start in ("13:30", "15:30"):
        repaired_earlier(backend, start)
    order = book(backend)["id"]
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    # Another portal's account is refused on the console's login.
    log_in(page, f"{backend.url}/station/", "boss")
    expect(page.locator("#login-error")).to_contain_text("不对", timeout=SECONDS)
    log_in(page, f"{backend.url}/station/", "bj01-front")
    expect(page.locator("#station")).to_have_text("BJ01", timeout=SECONDS)
    page.locator("#list li", has_text=order).click()
    expect(page.locator("#package")).to_contain_text("屏幕闪烁后黑屏")
    expect(page.locator("#package")).to_contain_text("外接显示器正常")
    expect(page.locator("#package")).to_contain_text("三包结论")
    expect(page.locator("#similar li")).to_have_count(2)
    expect(page.locator("#similar")).to_contain_text("backlight_failure → replace_lcd_panel")
    page.fill("#engineer", "李工")
    page.click("#accept")
    expect(page.locator("#order-title")).to_contain_text("已接单", timeout=SECONDS)
    expect(page.locator("#package")).to_contain_text("李工")
    for status, label, parts in (
        ("received", "已接机", ""),
        ("diagnosing", "检测中", ""),
        ("waiting_parts", "等待配件", ""),
        ("repaired", "已修好", "lcd_panel"),
        ("ready_for_pickup", "待取机", ""),
        ("closed", "已完成", ""),
    ):
        page.select_option("#next", status)
        page.fill("#parts", parts)
        page.fill("#note", f"{label}（浏览器测试）")
        if status == "closed":
            # What was found and done, coded, for the fault-case base.
            page.fill("#root-cause", OUTCOME["root_cause"])
            page.fill("#fix", OUTCOME["fix"])
        page.click("#step")
        expect(page.locator("#order-title")).to_contain_text(label, timeout=SECONDS)
    expect(page.locator("#timeline li")).to_have_count(9)
    expect(page.locator("#timeline")).to_contain_text("配件 lcd_panel")
    expect(page.locator("#step")).to_be_disabled()
    # Closed orders leave the open list for the finished one.
    expect(page.locator("#list li", has_text=order)).to_have_count(0, timeout=SECONDS)
    page.screenshot(path=str(tmp_path / "station-console.png"), full_page=True)

    boss = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    log_in(boss, f"{backend.url}/desk/", "boss")
    expect(boss.locator("#stations-link")).to_be_visible(timeout=SECONDS)
    boss.click("#stations-link")
    expect(boss.locator("#load")).to_contain_text("BJ01", timeout=SECONDS)
    draft = boss.locator("#drafts tr", has_text="replace_lcd_panel")
    expect(draft).to_contain_text("3")
    draft.locator("input").first.fill("XB14 屏幕闪烁后黑屏（P-088）")
    draft.locator("textarea").fill("外接显示器确认是否为屏幕问题\n保存数据后关机")
    draft.locator("input").nth(1).fill("外接显示器正常而本机黑屏时，预约更换屏幕")
    boss.screenshot(path=str(tmp_path / "stations-panel.png"), full_page=True)
    draft.locator("button", has_text="通过").click()
    expect(boss.locator("#drafts")).to_contain_text("暂无", timeout=SECONDS)
    assert (tmp_path / "station-console.png").stat().st_size > 10_000
