"""The reports page and the desk's alert badge in Chromium, against the backend alone on a
database with a synthetic history: the charts render, a filter narrows them, a bar opens the
orders behind it, the exports download and open (the XLSX with openpyxl); the after-sales
charts (CSAT, 回访, on-site SLA, station load) with a region filter and a drill-down by rating;
an operator's login lands on the reports. Screenshots: var/screenshots/reports.png,
reports-beijing.png, reports-operator.png and desk-alerts.png.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, expect

from bot import tables
from bot.clock import Clock
from bot.db import Database, create_engine
from bot.reports import rollups
from bot.reports.synthetic import Plan, generate
from tests.support.backend import BackendProcess, backend_env, desk_user, start_backend
from tests.support.database import fixed_clock
from tests.support.stack import ROOT

PASSWORD = "a-long-supervisor-password"
SCREENSHOTS = ROOT / "var" / "screenshots"
SECONDS = 20_000
CHARTS = (
    "conversations",
    "handoffs",
    "orders",
    "faults",
    "sla",
    "csat",
    "followups",
    "onsite",
    "load",
    "alerts",
)
ALERT = (
    "【故障预警】XB14 · E777 · 全国：自 2026-11-10 起 11 天报修 40 起，"
    "按基线应约 12.0 起（3.3 倍），纯属偶然的可能不到万亿分之一。"
)


async def _history(url: str) -> None:
    clock = fixed_clock()
    db = Database(create_engine(url))
    try:
        await generate(db, clock, Plan(days=60, orders_per_day=30, conversations_per_day=25))
        today = clock.today()
        async with db.write() as conn:
            await conn.execute(
                tables.insight_alerts.insert().values(
                    raised_on=today,
                    model_code="XB14",
                    fault_code="E777",
                    region=None,
                    rule="cusum",
                    since=today - timedelta(days=10),
                    observed=40,
                    expected=12.0,
                    p_value=1e-13,
                    statistic=15.2,
                    threshold=12.4,
                    arl0_days=30438.0,
                    units=500.0,
                    regions=[],
                    summary=ALERT,
                    status="new",
                    created_at=Clock.to_db(clock.now()),
                )
            )
        await rollups.rebuild(db, clock)
    finally:
        await db.close()


@pytest.fixture
def backend(database_url: str, tmp_path: Path) -> Iterator[BackendProcess]:
    # Another thread: sync Playwright holds this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _history(database_url)).result()
    env = backend_env(database_url, tmp_path)
    desk_user(env, "boss", "王芳", PASSWORD, role="supervisor")
    desk_user(env, "ops", "赵静", PASSWORD, role="operator")
    started = start_backend(env, tmp_path / "backend.log")
    yield started
    started.kill()


def _log_in(page: Page, url: str, username: str = "boss") -> None:
    page.goto(f"{url}/desk/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")


def _loaded(page: Page, before: str | None = None) -> str:
    page.wait_for_function(
        "before => document.body.dataset.loaded && document.body.dataset.loaded !== before",
        arg=before,
        timeout=SECONDS,
    )
    return str(page.evaluate("document.body.dataset.loaded"))


def _axis(page: Page, chart: str) -> list[str]:
    return list(
        page.evaluate(
            "id => echarts.getInstanceByDom(document.getElementById(id)).getOption().xAxis[0].data",
            f"chart-{chart}",
        )
    )


def _click_bar(page: Page, chart: str, index: int) -> None:
    """Click a bar halfway up (its foot is a pixel or two from the axis line, which takes the
    click); ECharts finds the bar under the pointer on its own mousemove first."""
    page.locator(f"#chart-{chart}").scroll_into_view_if_needed()
    x, y = page.evaluate(
        """([id, i]) => { const c = echarts.getInstanceByDom(document.getElementById(id));
          const count = c.getOption().series[0].data[i];
          const p = c.convertToPixel({seriesIndex: 0}, [i, count / 2]);
          const r = document.getElementById(id).getBoundingClientRect();
          return [r.left + p[0], r.top + p[1]]; }""",
        [f"chart-{chart}", index],
    )
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)


def test_reports_page_charts_filter_drill_down_and_exports(
    browser: Browser, backend: BackendProcess
) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _log_in(page, backend.url)
    # The desk: the supervisor sees the new alert at once, in Chinese.
    expect(page.locator("#alerts-badge")).to_have_text("预警 1", timeout=SECONDS)
    page.click("#alerts-badge")
    expect(page.locator("#alerts-panel")).to_contain_text("XB14 · E777")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "desk-alerts.png"))

    page.goto(f"{backend.url}/desk/reports.html")
    stamp = _loaded(page)
    for chart in CHARTS:
        expect(page.locator(f"#chart-{chart} canvas").first).to_be_visible()
    expect(page.locator("#rates")).to_contain_text("自助解决")
    expect(page.locator("#csat-rate")).to_contain_text("回复率")
    expect(page.locator("#onsite-rate")).to_contain_text("1 级")
    faults = _axis(page, "faults")
    assert len(faults) == 15
    assert len({code[:2] for code in _axis(page, "load")}) > 1
    page.screenshot(path=str(SCREENSHOTS / "reports.png"), full_page=True)

    # The region filter: the station load shows 北京's stations only, and the CSAT's tallest
    # score bar opens the rated orders of 北京.
    page.select_option("select[name=region]", "北京")
    page.click("#filters button[type=submit]")
    stamp = _loaded(page, stamp)
    assert {code[:2] for code in _axis(page, "load")} == {"BJ"}
    scores = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-csat')).getOption().series[0].data"
    )[:5]
    best = scores.index(max(scores))
    assert scores[best] > 0
    _click_bar(page, "csat", best)
    expect(page.locator("#drill-title")).to_contain_text(f"评分：{best + 1} 分")
    assert _axis(page, "csat")[best] == f"{best + 1} 分"
    rows = page.locator("#drill-rows tr")
    assert rows.count() > 0
    assert all("\tBJ" in rows.nth(i).inner_text() for i in range(rows.count()))
    page.screenshot(path=str(SCREENSHOTS / "reports-beijing.png"), full_page=True)
    page.select_option("select[name=region]", "")

    # A filter: one model; the Pareto shows that model only.
    model = faults[0].split("·")[0]
    page.fill("input[name=model]", model)
    page.click("#filters button[type=submit]")
    stamp = _loaded(page, stamp)
    assert {label.split("·")[0] for label in _axis(page, "faults")} == {model}

    # Drill-down: the first bar of the Pareto opens its orders.
    _click_bar(page, "faults", 0)
    expect(page.locator("#drill")).to_be_visible()
    expect(page.locator("#drill-title")).to_contain_text(
        faults[0].replace("·", " · ").split(" · ")[0]
    )
    rows = page.locator("#drill-rows tr")
    assert rows.count() > 0
    assert all(model in rows.nth(i).inner_text() for i in range(rows.count()))

    # Exports of what the filters show: CSV (UTF-8 with BOM) and Excel.
    with page.expect_download() as got:
        page.click("#export-csv")
    text = Path(got.value.path()).read_bytes()
    assert text.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert table[0][0] == "工单号" and len(table) > 1 and {r[4] for r in table[1:]} == {model}
    with page.expect_download() as got:
        page.click("#export-xlsx")
    assert got.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(got.value.path()).read_bytes()), read_only=True).active
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0][0] == "工单号" and len(lines) == len(table)
    assert date.fromisoformat(str(lines[1][1])[:10]) <= fixed_clock().today()
    context.close()


def test_an_operator_lands_on_the_reports(browser: Browser, backend: BackendProcess) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _log_in(page, backend.url, "ops")
    page.wait_for_url("**/desk/reports.html", timeout=SECONDS)
    _loaded(page)
    expect(page.locator("#me")).to_have_text("赵静")
    expect(page.locator("#chart-csat canvas").first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "reports-operator.png"), full_page=True)
    context.close()
