"""Simulated fault histories with known rises, to measure the detector (tests and benchmark).

Daily counts are negative binomial (a gamma-Poisson mixture): mean ``weekly / 7`` per day,
size ``theta`` (variance ``μ + μ²/θ``; ``inf`` is Poisson). An injection multiplies the mean of
one cell from its onset (or sets it to ``weekly``: a new fault), for a number of days or to the
end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from bot.insight.detector import Cell, FloatArray, History, IntArray

START = date(2025, 1, 1)


@dataclass(frozen=True)
class Injection:
    cell: int
    onset: int
    factor: float
    length: int | None = None
    weekly: float | None = None


def nb_counts(rng: np.random.Generator, mean: FloatArray, theta: FloatArray) -> IntArray:
    """Negative-binomial counts with these means (cells × days) and per-cell sizes."""
    theta = np.asarray(theta, dtype=float)
    finite = np.isfinite(theta)
    shape = np.where(finite, theta, 1.0)[:, None] * np.ones(mean.shape)
    mix = np.where(finite[:, None], rng.gamma(shape, 1 / shape), 1.0)
    return np.asarray(rng.poisson(mean * mix), dtype=np.int64)


def make_history(
    seed: int,
    weekly: Sequence[float] | FloatArray,
    theta: Sequence[float] | FloatArray,
    days: int,
    injections: Sequence[Injection] = (),
    faults_per_model: int = 20,
    units: FloatArray | None = None,
) -> History:
    """A history of ``len(weekly)`` cells; ``units`` (cells × days) scales each mean when given
    (relative to the cell's first day) and is passed on as the exposure."""
    rng = np.random.default_rng(seed)
    weekly_arr = np.asarray(weekly, dtype=float)
    mean = np.repeat(weekly_arr[:, None] / 7, days, axis=1)
    if units is not None:
        mean = mean * units / units[:, :1]
    for inj in injections:
        end = days if inj.length is None else min(days, inj.onset + inj.length)
        if inj.weekly is not None:
            mean[inj.cell, inj.onset : end] = inj.weekly / 7
        else:
            mean[inj.cell, inj.onset : end] *= inj.factor
    counts = nb_counts(rng, mean, np.asarray(theta, dtype=float))
    cells = tuple(
        Cell(f"M{i // faults_per_model:03d}", f"F{i:04d}") for i in range(len(weekly_arr))
    )
    return History(START, cells, counts, units)


def delays(
    alerts_by_cell: dict[int, list[int]], injections: Sequence[Injection]
) -> npt.NDArray[np.float64]:
    """Days from each injection's onset to the first alarm on or after it (``nan``: missed)."""
    out = []
    for inj in injections:
        after = [d for d in alerts_by_cell.get(inj.cell, []) if d >= inj.onset]
        out.append(float(min(after) - inj.onset) if after else np.nan)
    return np.array(out)
