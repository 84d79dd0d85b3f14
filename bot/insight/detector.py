"""Early warning: a fault rising on a model above its own baseline, false alarms on a budget.

Pure functions over arrays of daily counts (numpy and scipy only). A *cell* is one
``model_code × fault_code``; ``x_t`` is its number of fault reports on day ``t``; the installed
base of the model (``units``, when known) is the exposure, so a model that sells more does not
raise alarms: the baseline is a rate per unit and ``expected_t = rate × units_t``. Region is a
drill-down of an alarmed cell, not a separate alarm.

Budget. With ``N = 2,000`` cells evaluated daily and at most ``B = 2`` false alarms a month
system-wide, each cell needs an in-control average run length
``ARL0 = N × 30.44 / B = 30,438`` days (one false alarm per cell in about 83 years).

Order of the rules, for each cell and day (``Detector.run``):

1. Baseline, refreshed every 7 days from the days ``[t − 28 − 364, t − 28)``. The last 28 days
   are a guard, so a rise does not inflate its own baseline before it is flagged; days of past
   alarm episodes are left out; history starts at the model's first report (a fault never seen
   on an established model counts as zeros). ``rate = Σx / Σunits``; negative-binomial
   dispersion ``φ`` (variance ``μ + φμ²``) by the moment estimator ``Σ((x − μ)² − x) / Σμ²``.
   Both are then taken at an upper confidence bound, estimate ``+ z`` standard errors (the
   standard error of ``φ`` from the NB kurtosis ``6φ + 1/σ²``): a baseline from 150-364 days
   of counts is uncertain enough to eat the budget (research note §2.3: with 8 weeks of
   history the worst decile of cells has an ARL0 of 200 instead of 10,000). With ``z = 0``
   the benchmark (``scripts/bench_insight.py``) measures 1.7 false alarms a month, 1.2-2.2
   by seed: at the edge of the budget. The default ``z = 0.25`` halves that (0.85, at most
   1.25 by seed), a margin for what simulated data lack (weekdays, holidays, trends), for
   1-2 days of delay.
2. CUSUM, for cells with at least 56 baseline days expecting at least 1 report a week:
   ``S_t = max(0, S_{t−1} + x_t − k)``, alarm when ``S_t ≥ h``. ``k = (μ1 − μ0) / ln(μ1/μ0)``
   with ``μ1 = 2 μ0`` (tuned to a doubling), rounded to ``K/r`` in lowest terms with at least
   6 steps of ``1/r`` per ``k`` and 80 per ``h``. ``h`` is the smallest multiple of ``1/r``
   whose ARL0 reaches the target, computed exactly, not approximated: ``S`` then takes only
   the values ``i/r``, so the Brook-Evans Markov chain with ``NB(μ_design, φ_design)``
   transition probabilities gives the run length as ``((I − Q)⁻¹ 1)₀`` (``run_length``), and
   one LU factorisation gives it for every threshold at once (``run_lengths``). Cross-check:
   Poisson ``μ0 = 5/week``, ``k = 1.05``, ``h = 11.10`` gives 30,748 days, the research note's
   figure; the tests also simulate it. As ``h`` moves in steps of ``1/r``, the design ARL0
   lands above the target, by 2 % in the median and at most 15 %. Designs are cached per
   ``(μ, φ)`` rounded up (conservative) to grids of 8 % and 25 %.
3. New fault, for cells below 1 report a week (including codes never seen on the model), on a
   model with at least 56 days of history and, when units are known, at least
   ``new_fault_min_units`` units: alarm when the reports of the last 14 days reach the smallest
   ``n`` with ``P(Y ≥ n) ≤ 1/ARL0``, ``Y`` the 14-day NB count at the cell's upper rate or at
   least ``0.25`` a week (for a code never seen: 6 reports in 14 days). A day-by-day exceedance
   probability of ``1/ARL0`` bounds the rate of first crossings, so the budget holds for these
   cells too.
4. After an alarm the cell's statistic is reset to 0 and the cell is muted for that episode:
   no alarm until it has returned to normal, that is at least 14 days after the alarm the
   reports of the last 14 days are at most their expected count. The episode's days (from
   ``since``) stay out of every later baseline. A rise that never returns becomes the new
   normal after 182 days: the cell's baseline then restarts at the episode's ``since``.

Each ``Alert`` carries ``since`` (the day the CUSUM left 0, or the first report of the 14-day
window), observed against expected over ``[since, raised_on]``, the NB tail probability of
that count (descriptive: ``since`` is chosen after the fact), the statistic against its
threshold, the design ARL0, the regional drill-down and a one-sentence Chinese summary.

Over 350 lines on purpose: a pure engine whose calibration is derived in this docstring; the
derivation is half its length.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import linalg, special, stats

Rule = Literal["cusum", "new_fault"]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DAYS_PER_MONTH = 365.25 / 12
# Grid of the CUSUM: steps of 1/r, at least this many per reference value k and per threshold h.
K_STEPS = 6
H_STEPS = 80
# Designs are cached on (μ, φ) rounded up to these grids.
MU_GRID = 1.08
PHI_GRID = 1.25
PHI_MIN = 0.005
PHI_MAX = 4.0

# The operator's one-sentence report (not a bot response, so it lives here, not in domain.yml).
SUMMARY_TEMPLATE = (
    "【{title}】{model_code} · {fault_code} · {where}：自 {since} 起 {days} 天报修 {observed} 起，"
    "{baseline}，纯属偶然的可能{odds}。"
)
BASELINE = "按基线应约 {expected:.1f} 起（{ratio:.1f} 倍）"
UNSEEN = "此前几乎未见"
TITLES: dict[str, str] = {"cusum": "故障预警", "new_fault": "新故障预警"}
NATIONWIDE = "全国"
REGION_WHERE = "集中在{region}（{observed} 起，应约 {expected:.1f} 起）"


@dataclass(frozen=True)
class Config:
    """Budget and rules; the defaults are the ones the docstring above justifies."""

    monitored_cells: int = 2000
    false_alarms_per_month: float = 2.0
    shift: float = 2.0
    guard_days: int = 28
    baseline_days: int = 364
    min_baseline_days: int = 56
    refresh_days: int = 7
    z: float = 0.25
    min_weekly: float = 1.0
    new_fault_window: int = 14
    new_fault_floor_weekly: float = 0.25
    new_fault_min_reports: int = 3
    new_fault_min_units: float = 100.0
    rearm_days: int = 14
    new_normal_days: int = 182

    @property
    def arl0_days(self) -> float:
        """In-control average run length per cell that keeps the system-wide budget."""
        return self.monitored_cells * DAYS_PER_MONTH / self.false_alarms_per_month


@dataclass(frozen=True)
class Cell:
    model_code: str
    fault_code: str


@dataclass(frozen=True)
class Reports:
    """One entry per fault report, for the regional drill-down (indices into History)."""

    cell: IntArray
    day: IntArray
    region: IntArray
    regions: tuple[str, ...]


@dataclass(frozen=True)
class History:
    """Daily counts ``counts[cell, day]`` from ``start``; ``units`` per cell (or cell and day)."""

    start: date
    cells: tuple[Cell, ...]
    counts: IntArray
    units: FloatArray | None = None
    reports: Reports | None = None

    @property
    def days(self) -> int:
        return int(self.counts.shape[1])


@dataclass(frozen=True)
class RegionCount:
    region: str
    observed: int
    expected: float


@dataclass(frozen=True)
class Alert:
    raised_on: date
    model_code: str
    fault_code: str
    region: str | None
    since: date
    observed: int
    expected: float
    p_value: float
    rule: Rule
    statistic: float
    threshold: float
    arl0_days: float
    units: float | None = None
    regions: tuple[RegionCount, ...] = field(default=())

    @property
    def ratio(self) -> float | None:
        return self.observed / self.expected if self.expected > 0 else None

    @property
    def summary(self) -> str:
        return summary(self)

    def as_json(self) -> dict[str, object]:
        return {
            "raised_on": self.raised_on.isoformat(),
            "model_code": self.model_code,
            "fault_code": self.fault_code,
            "region": self.region,
            "since": self.since.isoformat(),
            "observed": self.observed,
            "expected": round(self.expected, 2),
            "p_value": float(f"{self.p_value:.3g}"),
            "rule": self.rule,
            "statistic": round(self.statistic, 2),
            "threshold": round(self.threshold, 2),
            "arl0_days": round(self.arl0_days),
            "units": self.units,
            "regions": [
                {"region": r.region, "observed": r.observed, "expected": round(r.expected, 2)}
                for r in self.regions
            ],
            "summary": self.summary,
        }


def _odds(p: float) -> str:
    n = 1 / max(p, 1e-300)
    if n >= 1e12:
        return "不到万亿分之一"
    if n >= 1e8:
        return f"约 {n / 1e8:.3g} 亿分之一"
    if n >= 1e4:
        return f"约 {n / 1e4:.3g} 万分之一"
    return f"约 {n:.3g} 分之一"


def summary(alert: Alert) -> str:
    """The alert in one Chinese sentence, from its data."""
    where = NATIONWIDE
    if alert.region is not None:
        top = next(r for r in alert.regions if r.region == alert.region)
        where = REGION_WHERE.format(region=top.region, observed=top.observed, expected=top.expected)
    ratio = alert.ratio
    baseline = (
        UNSEEN
        if ratio is None or alert.expected < 0.05
        else BASELINE.format(expected=alert.expected, ratio=ratio)
    )
    return SUMMARY_TEMPLATE.format(
        title=TITLES[alert.rule],
        model_code=alert.model_code,
        fault_code=alert.fault_code,
        where=where,
        since=alert.since.isoformat(),
        days=(alert.raised_on - alert.since).days + 1,
        observed=alert.observed,
        baseline=baseline,
        odds=_odds(alert.p_value),
    )


# --- calibration --------------------------------------------------------------------------


def nb_pmf_cdf(mu: float, phi: float, n: int) -> tuple[FloatArray, FloatArray]:
    """P(X = x) and P(X ≤ x) for x < n, X negative binomial with mean μ, variance μ + φμ²
    (φ = 0: Poisson). Written out with log-gamma: scipy.stats' overhead dominated calibration."""
    x = np.arange(n, dtype=float)
    if phi <= 0:
        logp = x * math.log(mu) - mu - special.gammaln(x + 1)
    else:
        size = 1 / phi
        logp = (
            special.gammaln(x + size)
            - special.gammaln(size)
            - special.gammaln(x + 1)
            + size * math.log(size / (size + mu))
            + x * math.log(mu / (size + mu))
        )
    pmf = np.exp(logp)
    return pmf, np.minimum(np.cumsum(pmf), 1.0)


def nb_sf(
    count: FloatArray | float, mean: FloatArray | float, size: FloatArray | float
) -> FloatArray:
    """P(Y ≥ count) for Y negative binomial with this mean and size (``inf``: Poisson)."""
    count, mean, size = np.broadcast_arrays(
        np.asarray(count, float), np.asarray(mean, float), np.asarray(size, float)
    )
    out = np.ones(count.shape)
    pos = count > 0
    poisson = pos & ~np.isfinite(size)
    nb = pos & np.isfinite(size)
    out[poisson] = stats.poisson.sf(count[poisson] - 1, mean[poisson])
    s = size[nb]
    out[nb] = stats.nbinom.sf(count[nb] - 1, s, s / (s + mean[nb]))
    return out


def _critical(mean: FloatArray, size: FloatArray, alpha: float) -> FloatArray:
    """The smallest n with P(Y ≥ n) ≤ alpha, Y negative binomial (size ``inf``: Poisson)."""
    out = np.empty(mean.shape)
    poisson = ~np.isfinite(size)
    out[poisson] = stats.poisson.isf(alpha, mean[poisson]) + 1
    s = size[~poisson]
    out[~poisson] = stats.nbinom.isf(alpha, s, s / (s + mean[~poisson])) + 1
    return out


def run_length(mu: float, phi: float, k_steps: int, r: int, h_steps: int) -> float:
    """Average run length of ``S = max(0, S + X − k_steps/r)`` until ``S ≥ h_steps/r``, from 0.

    Exact on the grid (Brook and Evans 1972): X is an integer, so S only takes the values
    i/r, i < h_steps, and the chain's transient matrix Q gives ARL = ((I − Q)⁻¹ 1)₀.
    """
    q = _transitions(mu, phi, k_steps, r, h_steps)
    return float(linalg.solve(np.eye(h_steps) - q, np.ones(h_steps), check_finite=False)[0])


def run_lengths(mu: float, phi: float, k_steps: int, r: int, size: int) -> FloatArray:
    """``run_length`` for every threshold ``h_steps = 1 … size`` at once (index h_steps − 1).

    The chain for a lower threshold is a leading block of the same Q, and an LU factorisation
    without pivoting factorises every leading block at once. State 0 is split off (its column
    gathers every fall back to 0); the rest of I − Q is column diagonally dominant, so LAPACK's
    partial pivoting keeps the diagonal (checked), and with D = LU, b, c the border of state 0:
    ARL(n) = (1 − bᵀD⁻¹1) / (a₀₀ − bᵀD⁻¹c), each a prefix sum of (U⁻ᵀb)·(L⁻¹v).
    """
    a = np.eye(size) - _transitions(mu, phi, k_steps, r, size)
    if size == 1:
        return np.array([1 / a[0, 0]])
    a00, b, c, d = a[0, 0], a[0, 1:], a[1:, 0], a[1:, 1:]
    lu, piv = linalg.lu_factor(d, check_finite=False)
    if not np.array_equal(piv, np.arange(size - 1)):  # pragma: no cover - not seen in practice
        return np.array([run_length(mu, phi, k_steps, r, h) for h in range(1, size + 1)])
    lower = {"lower": True, "unit_diagonal": True, "check_finite": False}
    ones = linalg.solve_triangular(lu, np.ones(size - 1), **lower)
    border = linalg.solve_triangular(lu, c, **lower)
    row = linalg.solve_triangular(lu, b, trans="T", check_finite=False)
    s1 = np.concatenate([[0.0], np.cumsum(row * ones)])
    sc = np.concatenate([[0.0], np.cumsum(row * border)])
    return np.asarray((1 - s1) / (a00 - sc), dtype=float)


def _transitions(mu: float, phi: float, k_steps: int, r: int, size: int) -> FloatArray:
    """Q[i, j] = P(from i/r to j/r) for the states below the threshold: Toeplitz in j − i for
    j ≥ 1 (a jump of r·X − k_steps), the whole lower tail in column 0."""
    top = (size - 1 + k_steps) // r + 1
    pmf, cdf = nb_pmf_cdf(mu, phi, top + 1)
    jump = np.arange(-(size - 1), size) + k_steps  # j − i from −(size − 1) to size − 1
    g = np.where((jump >= 0) & (jump % r == 0), pmf[np.clip(jump // r, 0, top)], 0.0)
    q = linalg.toeplitz(g[size - 1 :: -1], g[size - 1 :])
    low = k_steps - np.arange(size)
    q[:, 0] = np.where(low >= 0, cdf[np.clip(low // r, 0, top)], 0.0)
    return np.asarray(q, dtype=float)


@dataclass(frozen=True)
class Design:
    """A calibrated CUSUM: reference k and threshold h (counts a day), exact ARL0 in days."""

    mu: float
    phi: float
    k: float
    h: float
    arl0: float
    steps: int


def _siegmund_h(mu: float, phi: float, k: float, arl0: float) -> float:
    """A first guess of h from Siegmund's approximation for a drift-variance random walk."""
    var = mu + phi * mu * mu
    drift = k - mu
    b = var * math.log(max(2 * drift * drift * arl0 / var, 2.0)) / (2 * drift)
    return max(b - 1.166 * math.sqrt(var), k)


def _reference(k_real: float, least: int) -> tuple[int, int]:
    """(r, K): k = K/r close to k_real with r ≥ least, as small as it can be.

    K and r are coprime, so S reaches every multiple of 1/r (k = 6/12 would move S in halves
    only and coarsen the thresholds). The first r with such a K less than 3/4 of a step from
    k_real, else the closest such K/r.
    """
    closest: tuple[float, int, int] | None = None
    for r in range(least, least + 12):
        ideal = k_real * r
        for c in sorted({math.floor(ideal), math.ceil(ideal)}, key=lambda c: abs(c - ideal)):
            if c < 1 or math.gcd(c, r) != 1:
                continue
            if abs(c - ideal) < 0.75:
                return r, c
            if closest is None or abs(c / r - k_real) < closest[0]:
                closest = (abs(c / r - k_real), r, c)
    if closest is None:
        return least, max(1, round(k_real * least))
    return closest[1], closest[2]


@functools.lru_cache(maxsize=8192)
def design(mu: float, phi: float, arl0: float, shift: float = 2.0) -> Design:
    """The CUSUM for a baseline of ``mu`` reports a day with dispersion ``phi`` whose in-control
    ARL is at least ``arl0`` days: the smallest such h on the grid."""
    k_real = mu * (shift - 1) / math.log(shift)
    guess = _siegmund_h(mu, phi, k_real, arl0)
    least = max(1, round(K_STEPS / k_real), math.ceil(H_STEPS / guess))
    r, k_steps = _reference(k_real, least)
    k = k_steps / r

    # One factorisation gives every threshold; grow the chain if the guess was too small.
    size = max(8, math.ceil(1.5 * guess * r))
    while True:
        arls = run_lengths(mu, phi, k_steps, r, size)
        # Any threshold will do, not only the largest: for high rates (40 a day) the ARL of the
        # largest thresholds is lost to rounding, and waiting for it grew the chain without end.
        if (arls >= arl0).any():
            break
        size = math.ceil(size * 1.5)
    h_steps = int(np.argmax(arls >= arl0)) + 1
    return Design(mu, phi, k, h_steps / r, float(arls[h_steps - 1]), r)


def _grid_up(values: FloatArray, ratio: float, floor: float) -> FloatArray:
    """Round up to floor × ratio^n (values at or below 0 stay 0)."""
    out = np.zeros(values.shape)
    pos = values > 0
    n = np.ceil(np.log(np.maximum(values[pos], floor) / floor) / math.log(ratio) - 1e-9)
    out[pos] = floor * ratio**n
    return out


# --- estimation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """Per-cell estimates from the usable days of a window (all arrays of length cells)."""

    days: IntArray
    rate: FloatArray
    phi: FloatArray
    rate_up: FloatArray
    phi_up: FloatArray


def estimate(
    counts: IntArray,
    units: FloatArray,
    valid: BoolArray,
    z: float = 1.0,
) -> Baseline:
    """Rate per unit and NB dispersion of each row, from the days where ``valid``; with their
    upper bounds at ``z`` standard errors. ``counts``, ``units`` and ``valid`` are (cells, days)."""
    x = np.where(valid, counts, 0).astype(float)
    u = np.where(valid, units, 0.0)
    n = valid.sum(axis=1)
    su = u.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(su > 0, x.sum(axis=1) / su, 0.0)
        mu = rate[:, None] * u
        den = (mu * mu).sum(axis=1)
        num = np.where(valid, (x - mu) ** 2 - x, 0.0).sum(axis=1)
        phi = np.clip(np.where(den > 0, num / den, 0.0), 0.0, PHI_MAX)
        var_sum = (mu + phi[:, None] * mu * mu).sum(axis=1)
        rate_up = rate + z * np.where(su > 0, np.sqrt(var_sum) / su, 0.0)
        mbar = np.where(n > 0, mu.sum(axis=1) / n, 0.0)
        sigma2 = mbar + phi * mbar * mbar
        kurtosis = 6 * phi + 1 / sigma2
        se_phi = sigma2 * np.sqrt((2 + kurtosis) / np.maximum(n, 1)) / (mbar * mbar)
        phi_up = np.where(mbar > 0, np.minimum(PHI_MAX, phi + z * se_phi), PHI_MAX)
    return Baseline(n.astype(np.int64), rate, phi, rate_up, phi_up)


# --- the replay ---------------------------------------------------------------------------


class _Exposure:
    """Units per cell and day without materialising a constant matrix."""

    def __init__(self, units: FloatArray | None, cells: int, days: int) -> None:
        if units is None:
            units = np.ones(cells)
        units = np.asarray(units, dtype=float)
        self.known = units
        self.varying = units.ndim == 2
        if self.varying:
            self.cum = np.concatenate([np.zeros((cells, 1)), np.cumsum(units, axis=1)], axis=1)
        self.units = units
        self.days = days

    def at(self, t: int) -> FloatArray:
        return self.units[:, t] if self.varying else self.units

    def slab(self, a: int, b: int) -> FloatArray:
        if self.varying:
            return self.units[:, a:b]
        return np.broadcast_to(self.units[:, None], (self.units.shape[0], b - a))

    def total(self, a: int, b: int) -> FloatArray:
        if self.varying:
            return np.asarray(self.cum[:, b] - self.cum[:, a], dtype=float)
        return self.units * (b - a)


NONE, CUSUM, NEW_FAULT = 0, 1, 2


class Detector:
    """Replays a history day by day (all cells at once) and collects the alerts."""

    def __init__(self, history: History, config: Config | None = None) -> None:
        self.history = history
        self.cfg = config or Config()
        cells, days = history.counts.shape
        self.n_cells, self.n_days = cells, days
        self.counts = np.asarray(history.counts)
        self.units = _Exposure(history.units, cells, days)
        self.units_known = history.units is not None
        models = sorted({c.model_code for c in history.cells})
        index = {m: i for i, m in enumerate(models)}
        self.model_of = np.array([index[c.model_code] for c in history.cells], dtype=np.int64)
        seen = self.counts > 0
        first = np.where(seen.any(axis=1), seen.argmax(axis=1), days)
        model_first = np.full(len(models), days, dtype=np.int64)
        np.minimum.at(model_first, self.model_of, first)
        self.model_first = model_first[self.model_of]
        self.cum = np.concatenate(
            [np.zeros((cells, 1), dtype=np.int64), np.cumsum(self.counts, axis=1)], axis=1
        )
        self.flagged = np.zeros((cells, days), dtype=bool)
        self.rebase = np.zeros(cells, dtype=np.int64)
        self.arl0 = self.cfg.arl0_days
        # State of the replay.
        self.mode = np.zeros(cells, dtype=np.int8)
        self.k = np.zeros(cells)
        self.threshold = np.full(cells, np.inf)
        self.design_arl0 = np.zeros(cells)
        self.rate = np.zeros(cells)
        self.phi = np.zeros(cells)
        self.new_rate = np.zeros(cells)
        self.new_size = np.full(cells, np.inf)
        self.new_limit = np.full(cells, np.inf)
        self.s = np.zeros(cells)
        self.run_obs = np.zeros(cells)
        self.run_exp = np.zeros(cells)
        self.run_start = np.zeros(cells, dtype=np.int64)
        self.muted = np.zeros(cells, dtype=bool)
        self.alarm_day = np.zeros(cells, dtype=np.int64)
        self.episode_since = np.zeros(cells, dtype=np.int64)

    def refresh(self, t: int) -> None:
        """Re-estimate every cell's baseline and design from the days before the guard."""
        cfg = self.cfg
        b = t - cfg.guard_days
        a = max(0, b - cfg.baseline_days)
        self.mode[:] = NONE
        if b <= a:
            return
        start = np.maximum(self.model_first, self.rebase)
        valid = (np.arange(a, b)[None, :] >= start[:, None]) & ~self.flagged[:, a:b]
        base = estimate(self.counts[:, a:b], self.units.slab(a, b), valid, cfg.z)
        self.rate, self.phi = base.rate, base.phi
        u_now = self.units.at(t)
        mu_up = base.rate_up * u_now
        enough = base.days >= cfg.min_baseline_days
        cusum = enough & (mu_up * 7 >= cfg.min_weekly)
        model_ok = self.model_first <= b - cfg.min_baseline_days
        if self.units_known:
            model_ok &= u_now >= cfg.new_fault_min_units
        self.mode[cusum] = CUSUM
        self.mode[~cusum & model_ok] = NEW_FAULT

        idx = np.flatnonzero(cusum)
        mu_q = _grid_up(mu_up[idx], MU_GRID, 1e-3)
        phi_up = base.phi_up[idx]
        phi_q = _grid_up(np.where(phi_up < PHI_MIN, 0.0, phi_up), PHI_GRID, PHI_MIN)
        for cell, mu, phi in zip(idx, mu_q, phi_q, strict=True):
            d = design(float(mu), float(phi), self.arl0, cfg.shift)
            self.k[cell], self.threshold[cell], self.design_arl0[cell] = d.k, d.h, d.arl0

        nf = np.flatnonzero(self.mode == NEW_FAULT)
        w = cfg.new_fault_window
        lam = np.maximum(mu_up[nf], cfg.new_fault_floor_weekly / 7) * w
        phi_nf = np.where(base.rate[nf] > 0, base.phi_up[nf], 0.0)
        size = np.where(phi_nf > 0, w / np.maximum(phi_nf, 1e-12), np.inf)
        limit = np.maximum(_critical(lam, size, 1 / self.arl0), cfg.new_fault_min_reports)
        self.new_rate[nf], self.new_size[nf], self.new_limit[nf] = lam / w, size, limit

    def run(self, warmup_days: int = 180) -> list[Alert]:
        cfg = self.cfg
        alerts: list[Alert] = []
        w = cfg.new_fault_window
        if warmup_days < 0:
            raise ValueError("the warm-up cannot be negative")
        for t in range(warmup_days, self.n_days):
            if (t - warmup_days) % cfg.refresh_days == 0:
                self.refresh(t)
            x = self.counts[:, t]
            mu = self.rate * self.units.at(t)
            lo = max(0, t - w + 1)
            recent = self.cum[:, t + 1] - self.cum[:, lo]

            if self.muted.any():
                self.flagged[self.muted, t] = True
                expected = self.rate * self.units.total(lo, t + 1)
                back = self.muted & (t - self.alarm_day >= cfg.rearm_days) & (recent <= expected)
                self.muted &= ~back
                new_normal = self.muted & (t - self.episode_since >= cfg.new_normal_days)
                for c in np.flatnonzero(new_normal):
                    # Watched again from the next refresh, on a baseline that starts at the rise.
                    self.rebase[c] = self.episode_since[c]
                    self.flagged[c, self.episode_since[c] : t + 1] = False
                    self.muted[c] = False
                    self.mode[c] = NONE

            active = (self.mode == CUSUM) & ~self.muted
            s = np.where(active, np.maximum(0.0, self.s + x - self.k), 0.0)
            rising = s > 0
            self.run_start = np.where(rising & (self.s <= 0), t, self.run_start)
            self.run_obs = np.where(rising, self.run_obs + x, 0.0)
            self.run_exp = np.where(rising, self.run_exp + mu, 0.0)
            self.s = s
            alarm = active & (s >= self.threshold - 1e-9)
            fresh = (self.mode == NEW_FAULT) & ~self.muted & (recent >= self.new_limit)
            for c in np.flatnonzero(alarm | fresh):
                alert = self._alert(int(c), t, bool(alarm[c]), lo, int(recent[c]))
                alerts.append(alert)
                since = (alert.since - self.history.start).days
                self.muted[c] = True
                self.alarm_day[c] = t
                self.episode_since[c] = since
                self.flagged[c, since : t + 1] = True
                self.s[c] = self.run_obs[c] = self.run_exp[c] = 0.0
        return alerts

    def _alert(self, c: int, t: int, cusum: bool, lo: int, recent: int) -> Alert:
        cell = self.history.cells[c]
        units = self.units.at(t)[c] if self.units_known else None
        if cusum:
            since = int(self.run_start[c])
            observed = int(self.run_obs[c])
            expected = float(self.run_exp[c])
            span = t - since + 1
            phi = float(self.phi[c])
            size = span / phi if phi > 0 else math.inf
            p = float(nb_sf(observed, expected, size))
            statistic, threshold = float(self.s[c]), float(self.threshold[c])
            arl0 = float(self.design_arl0[c])
        else:
            since = lo + int(np.flatnonzero(self.counts[c, lo : t + 1])[0])
            observed = recent
            expected = float(self.rate[c] * self.units.total(since, t + 1)[c])
            w = self.cfg.new_fault_window
            p = float(nb_sf(recent, self.new_rate[c] * w, self.new_size[c]))
            limit = float(self.new_limit[c])
            tail = float(nb_sf(limit, self.new_rate[c] * w, self.new_size[c]))
            statistic, threshold, arl0 = float(recent), limit, 1 / tail
        regions, region = self._regions(c, since, t, observed, expected)
        return Alert(
            raised_on=self.history.start + timedelta(days=t),
            model_code=cell.model_code,
            fault_code=cell.fault_code,
            region=region,
            since=self.history.start + timedelta(days=since),
            observed=observed,
            expected=expected,
            p_value=p,
            rule="cusum" if cusum else "new_fault",
            statistic=statistic,
            threshold=threshold,
            arl0_days=float(arl0),
            units=None if units is None else float(units),
            regions=regions,
        )

    def _regions(
        self, c: int, since: int, t: int, observed: int, expected: float
    ) -> tuple[tuple[RegionCount, ...], str | None]:
        """Observed against expected per region; the expected split follows the model's usual
        regional mix (its reports in the baseline window, smoothed by one report per region).
        The alert names a region when that region holds at least half of the excess."""
        reports = self.history.reports
        if reports is None or not reports.regions:
            return (), None
        n = len(reports.regions)
        here = (reports.cell == c) & (reports.day >= since) & (reports.day <= t)
        obs = np.bincount(reports.region[here], minlength=n)
        b = t - self.cfg.guard_days
        a = max(0, b - self.cfg.baseline_days)
        model = self.model_of[reports.cell] == self.model_of[c]
        usual = np.bincount(
            reports.region[model & (reports.day >= a) & (reports.day < b)], minlength=n
        ).astype(float)
        share = (usual + 1) / (usual.sum() + n)
        exp = expected * share
        order = np.argsort(-(obs - exp), kind="stable")
        rows = tuple(
            RegionCount(reports.regions[i], int(obs[i]), float(exp[i])) for i in order if obs[i] > 0
        )
        excess = observed - expected
        top = int(order[0])
        named = excess > 0 and obs[top] - exp[top] >= excess / 2 and obs[top] > 0
        return rows, reports.regions[top] if named else None


def detect(history: History, config: Config | None = None, warmup_days: int = 180) -> list[Alert]:
    """Every alert the detector raises on this history after the warm-up, by day, then cell."""
    alerts = Detector(history, config).run(warmup_days)
    return sorted(alerts, key=lambda a: (a.raised_on, a.model_code, a.fault_code))
