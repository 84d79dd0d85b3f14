"""The reports page and the desk's alert badge in Chromium, against the backend alone on a
database with a synthetic history: the charts render, a filter narrows them, a bar opens the
orders behind it, the exports download and open (the XLSX with openpyxl). Screenshots:
var/screenshots/reports.png and var/screenshots/desk-alerts.png.
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
    started = start_backend(env, tmp_path / "backend.log")
    yield started
    started.kill()


def _log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/desk/")
    page.fill("input[name=username]", "boss")
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
    for chart in ("conversations", "handoffs", "orders", "stations", "faults", "sla", "alerts"):
        expect(page.locator(f"#chart-{chart} canvas").first).to_be_visible()
    expect(page.locator("#rates")).to_contain_text("自助解决")
    faults = _axis(page, "faults")
    assert len(faults) == 15
    page.screenshot(path=str(SCREENSHOTS / "reports.png"), full_page=True)

    # A filter: one model; the Pareto shows that model only.
    model = faults[0].split("·")[0]
    page.fill("input[name=model]", model)
    page.click("#filters button[type=submit]")
    stamp = _loaded(page, stamp)
    assert {label.split("·")[0] for label in _axis(page, "faults")} == {model}

    # Drill-down: the first bar of the Pareto opens its orders (clicked halfway up: its foot
    # is a pixel or two from the axis line, which takes the click).
    page.locator("#chart-faults").scroll_into_view_if_needed()
    x, y = page.evaluate(
        """() => { const c = echarts.getInstanceByDom(document.getElementById('chart-faults'));
          const count = c.getOption().series[0].data[0];
          const p = c.convertToPixel({seriesIndex: 0}, [0, count / 2]);
          const r = document.getElementById('chart-faults').getBoundingClientRect();
          return [r.left + p[0], r.top + p[1]]; }"""
    )
    # ECharts finds the bar under the pointer on its own mousemove first.
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
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
