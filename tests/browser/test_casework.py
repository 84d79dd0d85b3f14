"""The desk's 回访 and complaints panels in Chromium (issue 14).

Two repairs closed days ago whose customers did not answer the bot's 回访 question are the
phone tasks of today (one overdue); an agent records "satisfied" on one and "problem recurred"
on the other, which opens a serious complaint. In the complaints panel the agent closes a
normal complaint with its resolution and submits the serious one for review; a complaint
nobody handled in time has been escalated to the supervisors by the backend's own scan; a
supervisor approves the serious one, which closes it.

The backend alone, without Rasa, its clock frozen five days after the repairs; the repairs and
the unanswered 回访 are made beforehand by the real booking, life cycle and outbox worker at
their own moments (the customer's channel is a stand-in that records).
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.clock import Clock
from bot.complaints import open_complaint
from bot.contracts.workorders import CreateIn, TransitionIn
from bot.db import Database, create_engine
from bot.workorders import advance, book
from tests.support.backend import BackendProcess, backend_env, desk_user, start_backend
from tests.support.browser import DESK, SCREENSHOTS, serious_violations, shot
from tests.support.database import API_TOKEN, NOW, TZ, settings_for
from tests.support.outbox import TO_CLOSED, Channel, worker

PASSWORD = "a-long-casework-password"
SECONDS = 20_000  # Playwright waits in milliseconds
# The desk's day: Wednesday 25 November, five days after the frozen test day's repairs.
DESK_DAY = NOW + timedelta(days=5, hours=1)


def at(**delta: float) -> Clock:
    return Clock(TZ, fixed=NOW + timedelta(**delta))


async def _prepare(url: str) -> dict[str, str]:
    """Repairs closed on Friday and Saturday, the bot's unanswered 回访 questions (Monday and
    Tuesday), and a complaint opened on Tuesday morning that nobody handles."""
    db, settings = Database(create_engine(url)), settings_for(url)
    made: dict[str, str] = {}
    try:
        for name, start, closed_on in (("overdue", "09:00", 0), ("today", "10:30", 1)):
            body = CreateIn(
                kind="drop_off",
                model_code="XB14",
                fault="开机无显示，电源灯不亮" if name == "overdue" else "打印卡纸",
                station_code="BJ01",
                slot_date="2026-11-21",
                slot_start=start,
                customer_name="王先生" if name == "overdue" else "刘女士",
                phone="13800138000",
                channel="webchat",
                conversation_id=f"conv-casework-{name}",
            )
            async with db.write() as conn:
                order_id, _ = await book(conn, at(), settings, body)
            for step in TO_CLOSED:
                async with db.write() as conn:
                    step_in = TransitionIn(to=step, actor="station:BJ01", note=step)
                    await advance(conn, at(days=closed_on), order_id, step_in)
            made[name] = order_id
        channel = Channel()
        outbox = worker(db, channel)
        await outbox.deliver_due(at(days=3))  # the first order's 回访 question goes out
        await outbox.deliver_due(at(days=4))  # the second's
        assert {k.split(":")[1] for k in channel.sent_keys()} >= {"followup"}
        async with db.write() as conn:
            made["stale"] = await open_complaint(
                conn,
                at(days=4),
                settings.complaints,
                text="上周报修到现在没人联系我",
                conversation_id="conv-casework-stale",
                channel="webchat",
            )
    finally:
        await db.close()
    return made


def prepare(url: str) -> dict[str, str]:
    # Sync Playwright keeps an event loop in this thread: the set-up runs its own in another.
    made: dict[str, str] = {}
    thread = threading.Thread(target=lambda: made.update(asyncio.run(_prepare(url))))
    thread.start()
    thread.join()
    assert made, "the set-up failed"
    return made


@pytest.fixture
def backend(database_url: str, tmp_path: Path) -> Iterator[tuple[BackendProcess, dict[str, str]]]:
    made = prepare(database_url)
    env = backend_env(database_url, tmp_path)
    env |= {"BOT_CLOCK": DESK_DAY.isoformat(), "BOT_COMPLAINT_SCAN_SECONDS": "1"}
    desk_user(env, "zhao", "赵静", PASSWORD)
    desk_user(env, "wang", "王芳", PASSWORD, role="supervisor")
    started = start_backend(env, tmp_path / "backend.log")
    yield started, made
    started.kill()


def internal(backend: BackendProcess, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{backend.url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {API_TOKEN}",
            "X-Staff-User": "wang",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.load(reply)


def panel_violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious findings, but the "Rasa is down" banner's (this test runs without Rasa;
    the banner is the desk's, tested with the whole system in test_desk_defects.py)."""
    return [v for v in serious_violations(page) if v["nodes"] != ["#banner"]]


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/desk/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")
    expect(page.locator("#complaints-badge")).to_be_visible(timeout=SECONDS)


def test_followup_calls_and_complaints_on_the_desk(
    browser: Browser, backend: tuple[BackendProcess, dict[str, str]]
) -> None:
    server, made = backend
    rude = internal(
        server, "POST", "/api/complaints", {"text": "客服态度太差", "channel": "webchat"}
    )
    page = browser.new_context(**DESK).new_page()
    log_in(page, server.url, "zhao")

    # --- the 回访 calls of today --------------------------------------------------------------
    expect(page.locator("#followups-badge")).to_have_text("回访 2", timeout=SECONDS)
    page.click("#followups-badge")
    tasks = page.locator("#followups-panel li.followup")
    expect(tasks).to_have_count(2)
    overdue = tasks.filter(has_text=made["overdue"])
    expect(overdue).to_contain_text("已逾期")
    expect(tasks.filter(has_text=made["today"])).not_to_contain_text("已逾期")
    shot(page, "desk-followups")
    assert panel_violations(page) == []
    overdue.locator("textarea").fill("客户说开机正常，很满意")
    overdue.locator("button[data-outcome=satisfied]").click()
    expect(tasks).to_have_count(1, timeout=SECONDS)
    today = tasks.filter(has_text=made["today"])
    today.locator("textarea").fill("客户说又卡纸了")
    today.locator("button[data-outcome=recurred]").click()
    expect(page.locator("#followups-panel")).to_contain_text("没有需要回访的工单", timeout=SECONDS)
    expect(page.locator("#followups-badge")).to_have_text("回访 0")
    order = internal(server, "GET", f"/api/workorders/{made['overdue']}")
    assert order["status"] == "closed"
    reopened = internal(server, "GET", f"/api/workorders/{made['today']}")
    assert reopened["status"] == "created"  # the fault came back: booked again

    # --- complaints: the agent's -------------------------------------------------------------
    page.click("#followups-badge")
    page.click("#complaints-badge")
    panel = page.locator("#complaints-panel")
    recurred = panel.locator("li.complaint", has_text=made["today"])
    expect(recurred).to_contain_text("严重", timeout=SECONDS)
    mine = panel.locator("li.complaint", has_text=rude["id"])
    mine.locator("button[data-act=take]").click()
    expect(mine).to_contain_text("负责人 zhao", timeout=SECONDS)
    mine.locator("textarea").fill("已致歉，并安排主管回电")
    mine.locator("button[data-act=resolve]").click()
    expect(mine).to_have_count(0, timeout=SECONDS)
    recurred.locator("textarea").fill("上门更换搓纸轮，免收费用")
    recurred.locator("button[data-act=resolve]").click()
    expect(recurred).to_contain_text("待审核", timeout=SECONDS)
    # Nobody handled the Tuesday complaint by its due time: the backend moved it up.
    panel.locator(".case-tabs button[data-value=open]").click()
    stale = panel.locator("li.complaint", has_text=made["stale"])
    expect(stale).to_contain_text("主管级", timeout=SECONDS)
    expect(stale.locator(".case-steps")).to_contain_text("升级")
    shot(page, "desk-complaints-agent")
    closed = internal(server, "GET", f"/api/complaints/{rude['id']}")
    assert (closed["status"], closed["resolution"]) == ("closed", "已致歉，并安排主管回电")

    # --- the supervisor's review -------------------------------------------------------------
    boss = browser.new_context(**DESK).new_page()
    log_in(boss, server.url, "wang")
    expect(boss.locator("#complaints-badge")).to_have_class("case-badge hot", timeout=SECONDS)
    boss.click("#complaints-badge")
    review = boss.locator("#complaints-panel li.complaint", has_text=made["today"])
    expect(review.locator("button[data-act=approve]")).to_be_visible(timeout=SECONDS)
    expect(boss.locator("#complaints-panel li.complaint", has_text=made["stale"])).to_be_visible()
    shot(boss, "desk-complaints-supervisor")
    assert panel_violations(boss) == []
    review.locator("button[data-act=approve]").click()
    expect(review).to_have_count(0, timeout=SECONDS)
    [complaint] = [
        c for c in internal(server, "GET", "/api/complaints") if c["work_order_id"] == made["today"]
    ]
    assert (complaint["status"], complaint["reviewed_by"]) == ("closed", "wang")
    assert (SCREENSHOTS / "desk-complaints-supervisor.png").exists()
