"""The early-warning detector on simulated histories: false alarms per month and detection delays.

Each seed simulates ``--cells`` cells (model × fault code) for the warm-up plus ``--days`` days,
negative-binomial daily counts with sizes θ drawn from {2, 5, 20, Poisson}:

- 10 % "10/week doubling": 10 reports a week, doubled from a random onset to the end;
- 10 % "5/week ×5 burst": 5 a week, five-fold for 28 days from a random onset;
- 2 % "new fault": a code never reported on the model, 1 a day from a random onset;
- the rest in control, 0.2-50 reports a week (log-uniform), some codes never reported.

A false alarm is any alarm in an in-control cell or before the onset of an injected one;
the rate is scaled to 2,000 cells and a month of 30.44 days. Delay = alarm day − onset
(0 = flagged on the onset day itself); an injection not flagged while it lasts is missed and
counts as an infinite delay in the percentiles. Prints markdown tables.

    python scripts/bench_insight.py [--seeds 5] [--cells 2000] [--days 365] [--warmup 180]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from bot.insight.detector import DAYS_PER_MONTH, Config, Detector, design
from bot.insight.synthetic import Injection, delays, make_history

THETAS = np.array([2.0, 5.0, 20.0, np.inf])
GROUPS = ("10/week ×2", "5/week ×5", "new 7/week")


@dataclass
class Seed:
    false_alarms: int
    at_risk: float  # cell-days at risk of a false alarm
    delays: dict[str, list[float]]
    thetas: dict[str, list[float]]
    runtime: float


def one_seed(seed: int, cells: int, days: int, warmup: int, config: Config) -> Seed:
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
        injections[GROUPS[0]].append(Injection(int(c), start, 2.0))
    for c in order[n_double : n_double + n_burst]:
        weekly[c] = 5.0
        start = int(rng.integers(warmup + 7, total - 60))
        injections[GROUPS[1]].append(Injection(int(c), start, 5.0, length=28))
    for c in order[n_double + n_burst : n_double + n_burst + n_new]:
        weekly[c] = 0.0
        start = int(rng.integers(warmup + 7, total - 60))
        injections[GROUPS[2]].append(Injection(int(c), start, 1.0, length=28, weekly=7.0))
    every = [inj for group in injections.values() for inj in group]
    history = make_history(seed, weekly, theta, total, every)

    clock = time.perf_counter()
    alerts = Detector(history, config).run(warmup)
    runtime = time.perf_counter() - clock

    onset = {inj.cell: inj.onset for inj in every}
    index = {(c.model_code, c.fault_code): i for i, c in enumerate(history.cells)}
    by_cell: dict[int, list[int]] = defaultdict(list)
    false = 0
    for alert in alerts:
        c = index[(alert.model_code, alert.fault_code)]
        day = (alert.raised_on - history.start).days
        if c in onset and day >= onset[c]:
            by_cell[c].append(day)
        else:
            false += 1
    at_risk = (cells - len(every)) * days + sum(inj.onset - warmup for inj in every)
    found: dict[str, list[float]] = {}
    for name, group in injections.items():
        lasting = [math.inf if inj.length is None else inj.length for inj in group]
        found[name] = [
            float(d) if d < limit else math.inf
            for d, limit in zip(
                np.nan_to_num(delays(by_cell, group), nan=math.inf), lasting, strict=True
            )
        ]
    thetas = {name: [float(theta[inj.cell]) for inj in group] for name, group in injections.items()}
    return Seed(false, at_risk, found, thetas, runtime)


def per_month(false_alarms: int, at_risk: float) -> float:
    return false_alarms / at_risk * 2000 * DAYS_PER_MONTH


def describe(values: list[float]) -> str:
    arr = np.array(values)
    p50, p90 = np.percentile(arr, [50, 90])
    missed = int(np.isinf(arr).sum())
    return f"{_day(p50)} | {_day(p90)} | {missed}/{len(arr)}"


def _day(value: float) -> str:
    return "missed" if math.isinf(value) else f"{value:.0f} d"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365, help="monitored days after warm-up")
    parser.add_argument("--warmup", type=int, default=180)
    parser.add_argument("--z", type=float, default=Config.z, help="baseline margin in SE")
    args = parser.parse_args()
    config = Config(z=args.z)
    began = time.perf_counter()
    print(
        f"Budget {config.false_alarms_per_month:g} false alarms a month over "
        f"{config.monitored_cells:,} cells: ARL0 {config.arl0_days:,.0f} days per cell. "
        f"{args.cells:,} cells × ({args.warmup} warm-up + {args.days}) days, z = {config.z:g}.\n"
    )
    header = " | ".join(f"{g} p50 | p90 | missed" for g in GROUPS)
    print(f"| seed | false alarms | per month | {header} | detector s |")
    print("|---" * (4 + 3 * len(GROUPS)) + "|")
    seeds = []
    for seed in range(args.seeds):
        result = one_seed(seed, args.cells, args.days, args.warmup, config)
        seeds.append(result)
        cols = " | ".join(describe(result.delays[g]) for g in GROUPS)
        rate = per_month(result.false_alarms, result.at_risk)
        print(f"| {seed} | {result.false_alarms} | {rate:.2f} | {cols} | {result.runtime:.1f} |")
    false = sum(r.false_alarms for r in seeds)
    rate = per_month(false, sum(r.at_risk for r in seeds))
    cols = " | ".join(describe([d for r in seeds for d in r.delays[g]]) for g in GROUPS)
    print(f"| all | {false} | {rate:.2f} | {cols} | {np.median([r.runtime for r in seeds]):.1f} |")

    print("\nDelay by dispersion θ of the cell (daily NB size; inf = Poisson), all seeds:\n")
    print("| injection | θ | p50 | p90 | missed |\n|---|---|---|---|---|")
    for g in GROUPS[:2]:
        delays_g = [d for r in seeds for d in r.delays[g]]
        thetas_g = [t for r in seeds for t in r.thetas[g]]
        for theta in THETAS:
            picked = [d for d, t in zip(delays_g, thetas_g, strict=True) if t == theta]
            print(f"| {g} | {theta:g} | {describe(picked)} |")
    info = design.cache_info()
    print(
        f"\n{info.currsize} CUSUM designs calibrated (cached, {info.hits:,} reuses); "
        f"wall time {time.perf_counter() - began:.0f} s."
    )


if __name__ == "__main__":
    main()
