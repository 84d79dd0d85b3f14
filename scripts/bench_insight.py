"""The early-warning detector on simulated histories: false alarms per month and detection delays.

Each seed simulates ``--cells`` cells (model × fault code) for the warm-up plus ``--days`` days,
negative-binomial daily counts with sizes θ drawn from {2, 5, 20, Poisson}:

- 10 % "10/week doubling": 10 reports a week, doubled from a random onset to the end;
- 10 % "5/week ×5 burst": 5 a week, five-fold for 28 days from a random onset;
- 2 % "new fault": a code never reported on the model, 1 a day from a random onset;
- the rest in control, 0.2-50 reports a week (log-uniform), some codes never reported.

A false alarm is any alarm in an in-control cell or before the onset of an injected one;
the rate is scaled to 2,000 cells and a month of 30.44 days. Delay = alarm day − onset
(day 0 = the onset day itself); an injection without an alarm during it counts as missed.

    python scripts/bench_insight.py [--seeds 5] [--cells 2000] [--days 365] [--warmup 180]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from bot.insight.detector import DAYS_PER_MONTH, Config, Detector, design
from bot.insight.synthetic import Injection, delays, make_history

THETAS = np.array([2.0, 5.0, 20.0, np.inf])
GROUPS = ("10/week ×2", "5/week ×5", "new 7/week")


def one_seed(
    seed: int, cells: int, days: int, warmup: int, config: Config
) -> tuple[int, float, dict[str, list[float]], float]:
    rng = np.random.default_rng(10_000 + seed)
    total = warmup + days
    n_double, n_burst, n_new = cells // 10, cells // 10, cells // 50
    weekly = np.exp(rng.uniform(np.log(0.2), np.log(50), cells))
    weekly[rng.random(cells) < 0.05] = 0.0
    theta = rng.choice(THETAS, cells)
    injections: dict[str, list[Injection]] = {name: [] for name in GROUPS}
    # Injected cells are spread over the models, so every model keeps an in-control history.
    order = rng.permutation(cells)
    for c in order[:n_double]:
        weekly[c] = 10.0
        start = int(rng.integers(warmup + 7, total - 120))
        injections["10/week ×2"].append(Injection(int(c), start, 2.0))
    for c in order[n_double : n_double + n_burst]:
        weekly[c] = 5.0
        start = int(rng.integers(warmup + 7, total - 60))
        injections["5/week ×5"].append(Injection(int(c), start, 5.0, length=28))
    for c in order[n_double + n_burst : n_double + n_burst + n_new]:
        weekly[c] = 0.0
        start = int(rng.integers(warmup + 7, total - 60))
        injections["new 7/week"].append(Injection(int(c), start, 1.0, length=28, weekly=7.0))
    every = [inj for group in injections.values() for inj in group]
    history = make_history(seed, weekly, theta, total, every)

    clock = time.perf_counter()
    alerts = Detector(history, config).run(warmup)
    runtime = time.perf_counter() - clock

    onset = {inj.cell: inj.onset for inj in every}
    by_cell: dict[int, list[int]] = defaultdict(list)
    false = 0
    index = {(c.model_code, c.fault_code): i for i, c in enumerate(history.cells)}
    for alert in alerts:
        c = index[(alert.model_code, alert.fault_code)]
        day = (alert.raised_on - history.start).days
        if c in onset and day >= onset[c]:
            by_cell[c].append(day)
        else:
            false += 1
    # Cell-days at risk of a false alarm: in-control cells after warm-up, injected ones up to onset.
    at_risk = (cells - len(every)) * days + sum(inj.onset - warmup for inj in every)
    found: dict[str, list[float]] = {}
    for name, group in injections.items():
        d = delays(by_cell, group)
        limit = np.array([np.inf if inj.length is None else inj.length for inj in group])
        found[name] = [float(v) if v < lim else np.nan for v, lim in zip(d, limit, strict=True)]
    return false, at_risk, found, runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365, help="monitored days after warm-up")
    parser.add_argument("--warmup", type=int, default=180)
    parser.add_argument("--z", type=float, default=Config.z, help="baseline safety margin (SE)")
    args = parser.parse_args()
    config = Config(z=args.z)
    print(
        f"budget: {config.false_alarms_per_month:g} false alarms/month over "
        f"{config.monitored_cells} cells -> ARL0 {config.arl0_days:,.0f} days per cell"
    )
    print(
        f"{'seed':>4} {'false':>5} {'FA/month':>8} "
        + " ".join(f"{name + ' p50/p90 (miss)':>28}" for name in GROUPS)
        + f" {'runtime s':>9}"
    )
    all_false, all_risk = 0, 0.0
    pooled: dict[str, list[float]] = defaultdict(list)
    runtimes = []
    for seed in range(args.seeds):
        false, risk, found, runtime = one_seed(seed, args.cells, args.days, args.warmup, config)
        all_false += false
        all_risk += risk
        runtimes.append(runtime)
        cols = []
        for name, values in found.items():
            pooled[name] += values
            cols.append(f"{_delays(values):>28}")
        rate = false / risk * 2000 * DAYS_PER_MONTH
        print(f"{seed:>4} {false:>5} {rate:>8.2f} " + " ".join(cols) + f" {runtime:>9.2f}")
    rate = all_false / all_risk * 2000 * DAYS_PER_MONTH
    cols = [f"{_delays(values):>28}" for values in pooled.values()]
    print(
        f"{'all':>4} {all_false:>5} {rate:>8.2f} "
        + " ".join(cols)
        + f" {np.median(runtimes):>9.2f}"
    )
    info = design.cache_info()
    print(f"designs calibrated: {info.currsize} (cache hits {info.hits})")


def _delays(values: list[float]) -> str:
    arr = np.array(values)
    hit = arr[~np.isnan(arr)]
    miss = int(np.isnan(arr).sum())
    if not len(hit):
        return f"- ({miss}/{len(arr)})"
    p50, p90 = np.percentile(hit, [50, 90])
    return f"{p50:.0f} / {p90:.0f} d ({miss}/{len(arr)})"


if __name__ == "__main__":
    main()
