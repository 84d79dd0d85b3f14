"""The early-warning detector on simulated histories with known rises, and its back-test command."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from bot.__main__ import main
from bot.insight.detector import (
    Alert,
    Config,
    History,
    Reports,
    design,
    detect,
    estimate,
    run_length,
    run_lengths,
)
from bot.insight.synthetic import START, Injection, delays, make_history, nb_counts

WARMUP = 180


def cell_days(history: History, alerts: list[Alert]) -> dict[int, list[int]]:
    index = {(c.model_code, c.fault_code): i for i, c in enumerate(history.cells)}
    out: dict[int, list[int]] = {}
    for a in alerts:
        out.setdefault(index[(a.model_code, a.fault_code)], []).append(
            (a.raised_on - history.start).days
        )
    return out


# --- calibration ---------------------------------------------------------------------------


def test_the_chain_reproduces_the_research_table() -> None:
    # operations.md §2.3: 5 reports a week, daily k = 1.05, h = 11.10 -> ARL0 30,748 days.
    assert run_length(5 / 7, 0.0, 21, 20, 222) == pytest.approx(30_748, abs=1)
    # 10 a week: k = 2.05, h = 12.25 -> 30,157 days.
    assert run_length(10 / 7, 0.0, 41, 20, 245) == pytest.approx(30_157, abs=1)


def test_every_threshold_at_once_equals_one_at_a_time() -> None:
    all_h = run_lengths(0.8, 0.3, 7, 6, 90)
    for h in (1, 2, 17, 45, 90):
        assert all_h[h - 1] == pytest.approx(run_length(0.8, 0.3, 7, 6, h), rel=1e-9)
    assert np.all(np.diff(all_h) >= 0)


def test_overdispersion_raises_the_threshold() -> None:
    mu, arl0 = 10 / 7, Config().arl0_days
    poisson, heavy = design(mu, 0.0, arl0), design(mu, 0.5, arl0)
    assert heavy.h > poisson.h * 1.3
    # The reference value is for a doubling either way: k = μ0 / ln 2 to a step of the grid.
    for d in (poisson, heavy):
        assert abs(d.k - mu / np.log(2)) < 1 / d.steps
    # The Poisson design run on NB(φ = 0.5) counts would be far below budget:
    steps = poisson.steps
    assert run_length(mu, 0.5, round(poisson.k * steps), steps, round(poisson.h * steps)) < (
        arl0 / 5
    )


def simulate_run_lengths(
    mu: float, phi: float, k: float, h: float, runs: int
) -> npt.NDArray[np.float64]:
    """Days until S ≥ h for each of ``runs`` independent CUSUMs started at 0."""
    rng = np.random.default_rng(7)
    lengths = np.zeros(runs)
    alive = np.arange(runs)
    s = np.zeros(runs)
    day = 0
    while len(alive):
        block = nb_counts(rng, np.full((len(alive), 50), mu), np.full(len(alive), 1 / phi))
        for i in range(block.shape[1]):
            day += 1
            s = np.maximum(0.0, s + block[:, i] - k)
            done = s >= h - 1e-9
            lengths[alive[done]] = day
            alive, s, block = alive[~done], s[~done], block[~done]
            if not len(alive):
                break
    return lengths


def test_the_threshold_gives_its_arl_by_simulation() -> None:
    d = design(1.0, 0.3, 400.0)
    assert d.arl0 >= 400
    below = run_length(1.0, 0.3, round(d.k * d.steps), d.steps, round(d.h * d.steps) - 1)
    assert below < 400  # the smallest threshold that reaches the target
    lengths = simulate_run_lengths(1.0, 0.3, d.k, d.h, 2000)
    assert lengths.mean() == pytest.approx(d.arl0, rel=0.06)


def test_the_budget_threshold_holds_by_simulation() -> None:
    """2,000 cells at 10 a week (φ = 0.2) for 1,500 days with the budget's design, restarting
    at 0 after each alarm: false alarms arrive at 1/ARL0 per cell-day."""
    mu, phi = 10 / 7, 0.2
    d = design(mu, phi, Config().arl0_days)
    rng = np.random.default_rng(11)
    cells, days = 2000, 1500
    theta = np.full(cells, 1 / phi)
    s = np.zeros(cells)
    alarms = 0
    for _ in range(days // 100):
        block = nb_counts(rng, np.full((cells, 100), mu), theta)
        for x in block.T:
            s = np.maximum(0.0, s + x - d.k)
            hit = s >= d.h - 1e-9
            alarms += int(hit.sum())
            s[hit] = 0.0
    expected = cells * days / d.arl0
    assert alarms == pytest.approx(expected, rel=0.25)


def test_estimates_recover_known_nb_parameters() -> None:
    rng = np.random.default_rng(3)
    cells, days = 400, 364
    mu, theta = 10 / 7, 5.0
    counts = nb_counts(rng, np.full((cells, days), mu), np.full(cells, theta))
    valid = np.ones((cells, days), dtype=bool)
    base = estimate(counts, np.ones((cells, days)), valid, z=1.0)
    assert base.rate.mean() == pytest.approx(mu, rel=0.01)
    assert base.phi.mean() == pytest.approx(1 / theta, abs=0.02)
    assert np.median(base.phi) == pytest.approx(1 / theta, abs=0.03)
    # One standard error up covers the truth in about 84 % of the cells.
    assert 0.75 < (base.rate_up >= mu).mean() < 0.92
    assert 0.75 < (base.phi_up >= 1 / theta).mean() < 0.95


def test_rate_is_per_installed_unit() -> None:
    rng = np.random.default_rng(5)
    days = 364
    units = np.linspace(1000, 3000, days)[None, :].repeat(200, axis=0)
    per_unit = 2e-3
    counts = nb_counts(rng, units * per_unit, np.full(200, 10.0))
    base = estimate(counts, units, np.ones(counts.shape, dtype=bool))
    assert base.rate.mean() == pytest.approx(per_unit, rel=0.01)
    assert base.phi.mean() == pytest.approx(0.1, abs=0.02)


def test_days_left_out_do_not_count() -> None:
    counts = np.array([[1, 2, 50, 1, 2, 0]])
    valid = np.array([[True, True, False, True, True, True]])
    base = estimate(counts, np.ones(counts.shape), valid, z=0.0)
    assert base.days[0] == 5 and base.rate[0] == pytest.approx(6 / 5)


# --- detection -----------------------------------------------------------------------------


def test_a_doubling_of_a_ten_a_week_fault_is_flagged_within_three_weeks() -> None:
    cells, onset = 60, 260
    injections = [Injection(c, onset, 2.0) for c in range(cells)]
    history = make_history(1, [10.0] * cells, [20.0] * cells, 400, injections)
    alerts = detect(history, warmup_days=WARMUP)
    found = delays(cell_days(history, alerts), injections)
    assert not np.isnan(found).any()
    assert np.median(found) <= 21
    assert np.percentile(found, 90) <= 45
    before = [a for a in alerts if (a.raised_on - history.start).days < onset]
    assert len(before) <= 1
    first = min(alerts, key=lambda a: a.raised_on)
    assert first.rule == "cusum" and first.observed > first.expected * 1.5
    assert first.statistic >= first.threshold and first.arl0_days >= Config().arl0_days


def test_a_fivefold_burst_of_a_five_a_week_fault_is_flagged_within_a_week() -> None:
    cells, onset = 60, 250
    injections = [Injection(c, onset, 5.0, length=28) for c in range(cells)]
    history = make_history(2, [5.0] * cells, [5.0] * cells, 320, injections)
    found = delays(cell_days(history, detect(history, warmup_days=WARMUP)), injections)
    assert not np.isnan(found).any()
    assert np.median(found) <= 7
    assert found.max() <= 14


def test_a_flat_series_with_heavy_overdispersion_raises_nothing_for_a_year() -> None:
    weekly = [2.0, 5.0, 10.0, 20.0, 50.0] * 6
    history = make_history(4, weekly, [1.0] * len(weekly), WARMUP + 365)
    variance = history.counts.var(axis=1) / history.counts.mean(axis=1)
    assert variance.max() > 5  # really overdispersed: variance up to 8× the mean
    assert detect(history, warmup_days=WARMUP) == []


def test_installed_base_growth_is_not_a_rise() -> None:
    days = WARMUP + 365
    units = np.linspace(10_000, 30_000, days)[None, :].repeat(20, axis=0)
    grown = make_history(6, [10.0] * 20, [20.0] * 20, days, units=units)
    assert detect(grown, warmup_days=WARMUP) == []
    counted = History(grown.start, grown.cells, grown.counts)  # same counts, no exposure
    assert len(detect(counted, warmup_days=WARMUP)) >= 10


def test_one_alert_per_episode_and_again_after_a_return_to_normal() -> None:
    # Cell 0: a permanent tripling; cell 1: two bursts with a normal stretch between them.
    injections = [
        Injection(0, 220, 3.0),
        Injection(1, 220, 4.0, length=20),
        Injection(1, 300, 4.0, length=20),
    ]
    history = make_history(8, [10.0, 10.0], [20.0, 20.0], 380, injections)
    days = cell_days(history, detect(history, warmup_days=WARMUP))
    assert len(days[0]) == 1 and days[0][0] >= 220
    assert len(days[1]) == 2
    assert 220 <= days[1][0] < 240 and 300 <= days[1][1] < 320


def test_a_new_fault_on_an_established_model_is_flagged() -> None:
    days, onset = 260, 230
    weekly = [20.0, 10.0, 0.0, 0.0]
    history = make_history(9, weekly, [20.0] * 4, days, faults_per_model=4)
    counts = history.counts.copy()
    counts[2, onset : onset + 10 : 2] = 1  # 5 reports in 10 days of a code never seen
    counts[2, onset + 10] = 1  # the sixth
    counts[3, onset : onset + 3] = 1  # three reports of another: not enough
    h = History(history.start, history.cells, counts)
    alerts = detect(h, warmup_days=WARMUP)
    assert [(a.fault_code, a.rule) for a in alerts] == [(history.cells[2].fault_code, "new_fault")]
    alert = alerts[0]
    assert alert.raised_on == history.start + timedelta(days=onset + 10)
    assert alert.since == history.start + timedelta(days=onset)
    assert alert.observed == 6 and alert.expected == 0
    assert alert.p_value <= 1 / Config().arl0_days
    assert "新故障预警" in alert.summary and "此前几乎未见" in alert.summary
    # A model with too small an installed base is not watched for new faults.
    small = History(history.start, history.cells, counts, np.full(4, 50.0))
    assert detect(small, warmup_days=WARMUP) == []


def test_no_alert_during_the_warm_up() -> None:
    injections = [Injection(c, 120, 5.0) for c in range(10)]
    history = make_history(10, [5.0] * 10, [20.0] * 10, 300, injections)
    first_day = history.start + timedelta(days=WARMUP)
    assert all(a.raised_on >= first_day for a in detect(history, warmup_days=WARMUP))
    assert detect(history, warmup_days=300) == []
    with pytest.raises(ValueError, match="warm-up"):
        detect(history, warmup_days=-1)


def test_the_alert_says_where_since_when_and_how_unusual() -> None:
    rng = np.random.default_rng(12)
    history = make_history(12, [14.0], [20.0], 300, [Injection(0, 240, 3.0)])
    # Regions: the usual mix is even over three; the extra reports all come from 华东.
    region = rng.integers(0, 3, int(history.counts.sum()))
    cell = np.zeros(len(region), dtype=np.int64)
    day = np.repeat(np.arange(history.days), history.counts[0])
    extra = (day >= 240) & (rng.random(len(day)) < 0.67)
    region[extra] = 0
    reports = Reports(cell, day, region, ("华东", "华北", "华南"))
    h = History(history.start, history.cells, history.counts, None, reports)
    (alert,) = detect(h, warmup_days=WARMUP)
    assert alert.region == "华东" and alert.regions[0].region == "华东"
    assert alert.regions[0].observed > 2 * alert.regions[0].expected
    assert sum(r.observed for r in alert.regions) == alert.observed
    assert alert.since <= alert.raised_on
    text = alert.summary
    assert text.startswith("【故障预警】M000 · F0000 · 集中在华东")
    assert f"自 {alert.since.isoformat()} 起" in text and "倍" in text and "分之一" in text
    record = alert.as_json()
    assert record["raised_on"] == alert.raised_on.isoformat()
    assert record["observed"] == alert.observed and record["summary"] == text


# --- the back-test command -----------------------------------------------------------------


def write_reports(
    path: Path, history: History, regions: tuple[str, ...] = ("华东", "华北")
) -> None:
    lines = ["date,model_code,fault_code,region"]
    for c, cell in enumerate(history.cells):
        for day in np.repeat(np.arange(history.days), history.counts[c]):
            region = regions[int(day) % len(regions)]
            day_text = history.start + timedelta(days=int(day))
            lines.append(f"{day_text},{cell.model_code},{cell.fault_code},{region}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """Two models with three faults each over 300 days; M000/F0000 doubles from day 230."""
    history = make_history(
        21, [10.0, 4.0, 2.0, 20.0, 6.0, 3.0], [20.0] * 6, 300, [Injection(0, 230, 2.5)], 3
    )
    path = tmp_path / "reports.csv"
    write_reports(path, history)
    return path


def backtest(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[dict[str, object]], str]:
    code = main(["insight", "backtest", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_backtest_prints_one_json_object_per_alert(
    reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = tmp_path / "units.csv"
    units.write_text("model_code,units\nM000,12000\nM001,30000\n", encoding="utf-8")
    code, alerts, err = backtest(capsys, str(reports), "--exposure", str(units))
    assert code == 0, err
    assert [(a["model_code"], a["fault_code"]) for a in alerts] == [("M000", "F0000")]
    alert = alerts[0]
    assert {"raised_on", "model_code", "fault_code", "observed", "expected"} <= set(alert)
    raised = date.fromisoformat(str(alert["raised_on"]))
    assert START + timedelta(days=230) <= raised <= START + timedelta(days=260)
    assert alert["units"] == 12000.0 and alert["rule"] == "cusum"
    assert isinstance(alert["observed"], int) and alert["observed"] > alert["expected"]  # type: ignore[operator]
    assert str(alert["summary"]).startswith("【故障预警】M000 · F0000")
    assert "1 alert(s)" in err


def test_backtest_orders_by_day_and_honours_the_warm_up(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, alerts, _ = backtest(capsys, str(reports), "--warmup-days", "100")
    assert code == 0
    days = [str(a["raised_on"]) for a in alerts]
    assert days
    assert days == sorted(days) and all(d >= str(START + timedelta(days=100)) for d in days)
    code, alerts, _ = backtest(capsys, str(reports), "--warmup-days", "300")
    assert code == 0 and alerts == []


def test_backtest_counts_days_without_rows_as_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One report every other day for 200 days, then ten on each of two days.
    lines = ["date,model_code,fault_code,region"]
    lines += [f"{START + timedelta(days=d)},A1,E1," for d in range(0, 200, 2)]
    lines += [f"{START + timedelta(days=d)},A1,E1,华南" for d in (200, 201) for _ in range(10)]
    path = tmp_path / "sparse.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, alerts, err = backtest(capsys, str(path))
    assert code == 0, err
    (alert,) = alerts
    assert (alert["since"], alert["raised_on"]) == (
        str(START + timedelta(days=200)),
        str(START + timedelta(days=201)),
    )
    assert alert["observed"] == 20
    assert alert["expected"] == pytest.approx(1.0, rel=0.1)  # 0.5 a day: the empty days count


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("day,model,fault,region\n2025-01-01,A,B,C\n", "header must name the columns"),
        ("", "header must name the columns"),
        (
            "date,model_code,fault_code,region\n2025-01-01,A,B,C\n2025/01/02,A,B,C\n",
            "line 3: malformed date '2025/01/02'",
        ),
        ("date,model_code,fault_code,region\n2025-02-30,A,B,C\n", "line 2: malformed date"),
        ("date,model_code,fault_code,region\n2025-02-03,A\n", "line 2: 2 field(s)"),
        ("date,model_code,fault_code,region\n2025-02-03,,B,C\n", "must not be empty"),
    ],
)
def test_backtest_rejects_bad_reports_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "reports.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, alerts, err = backtest(capsys, str(path))
    assert code == 2 and alerts == []
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("model,count\nM000,5\n", "header must name the columns model_code,units"),
        ("model_code,units\nM000,lots\nM001,5\n", "line 2: units must be a positive number"),
        ("model_code,units\nM000,-3\nM001,5\n", "line 2: units must be a positive number"),
        ("model_code,units\nM000,5\n", "no installed base for model(s) M001"),
    ],
)
def test_backtest_rejects_bad_units(
    reports: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    message: str,
) -> None:
    units = tmp_path / "units.csv"
    if content is not None:
        units.write_text(content, encoding="utf-8")
    code, _, err = backtest(capsys, str(reports), "--exposure", str(units))
    assert code == 2 and message in err


def test_backtest_asks_for_utf_8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("date,model_code,fault_code,region\n2025-01-01,A,B,华东\n".encode("gbk"))
    code, _, err = backtest(capsys, str(path))
    assert code == 2 and "not UTF-8 text" in err
    code, _, err = backtest(capsys, str(tmp_path))
    assert code == 2 and "not a file" in err


def test_backtest_rejects_a_negative_warm_up(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = backtest(capsys, str(reports), "--warmup-days", "-5")
    assert code == 2 and "--warmup-days" in err
