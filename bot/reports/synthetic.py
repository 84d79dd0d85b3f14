"""A synthetic history for the reports and the early warning: work orders (with their closing
events), handoffs, complaints and conversation facts over many days, on the models and
stations already in the database (the demo seed). Used by the tests (small) and by
``scripts/bench_reports.py`` (large).

Each fault cell (model × error code) has its own weekly rate; ``bursts`` multiply one cell's
rate from a day on, which is how the tests give the detector something to find.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from bot import tables
from bot.clock import Clock
from bot.db import Database

STATUSES = ("scheduled", "received", "diagnosing", "repaired", "closed", "cancelled")
REASONS = ("requested", "fallback", "complaint")
CHANNELS = ("webchat", "telegram", "rest")
BATCH = 5000
MAX_ORDERS_PER_DAY = 4999
ON_SITE_SHARE = 0.3
RATED_SHARE = 0.6
SCORES = (5, 4, 3, 2, 1)
SCORE_WEIGHTS = (0.55, 0.25, 0.1, 0.05, 0.05)
# "" is a 回访 asked and not answered yet.
FOLLOWUP_OUTCOMES = ("solved", "satisfied", "recurred", "unreachable", "")
FOLLOWUP_WEIGHTS = (0.6, 0.15, 0.05, 0.1, 0.1)


@dataclass(frozen=True)
class Burst:
    model_code: str
    error_code: str
    from_day: int
    factor: float
    # For a cell outside the generated grid: its daily rate before the burst.
    base_per_day: float = 0.0


@dataclass
class Plan:
    days: int
    orders_per_day: float
    conversations_per_day: float = 0.0
    faults_per_model: int = 8
    seed: int = 1
    bursts: list[Burst] = field(default_factory=list)


async def _catalogue(db: Database) -> tuple[list[str], list[str]]:
    async with db.read() as conn:
        models = list((await conn.execute(select(tables.models.c.code))).scalars())
        stations = list(
            (
                await conn.execute(
                    select(tables.stations.c.code).where(tables.stations.c.kind != "dealer")
                )
            ).scalars()
        )
    return sorted(models), sorted(stations) or ["BJ01"]


async def generate(db: Database, clock: Clock, plan: Plan, last: date | None = None) -> int:
    """Insert the history ending on ``last`` (default today); returns the work orders made."""
    rng = np.random.default_rng(plan.seed)
    models, stations = await _catalogue(db)
    last = last or clock.today()
    first = last - timedelta(days=plan.days - 1)
    cells = [(m, f"E{j:03d}") for m in models for j in range(plan.faults_per_model)]
    # Zipf-like weights: a few faults make most of the orders (a Pareto worth drawing).
    weights = 1.0 / np.arange(1, len(cells) + 1) ** 0.8
    weights = rng.permutation(weights / weights.sum())
    for burst in plan.bursts:
        if (burst.model_code, burst.error_code) not in cells:
            cells.append((burst.model_code, burst.error_code))
            weights = np.append(weights, burst.base_per_day / plan.orders_per_day)
    made = 0
    orders: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    loop: dict[str, list[dict[str, Any]]] = {"notifications": [], "followups": []}
    for offset in range(plan.days):
        day = first + timedelta(days=offset)
        rate = weights * plan.orders_per_day
        for burst in plan.bursts:
            if offset >= burst.from_day:
                rate[cells.index((burst.model_code, burst.error_code))] *= burst.factor
        counts = rng.poisson(rate)
        if counts.sum() > MAX_ORDERS_PER_DAY:
            raise ValueError(f"at most {MAX_ORDERS_PER_DAY} orders a day (the id has 4 digits)")
        seq = 0
        for index in np.flatnonzero(counts):
            for _ in range(int(counts[index])):
                seq += 1
                made += 1
                model, code = cells[index]
                at = _moment(clock, day, rng)
                status = STATUSES[int(rng.integers(len(STATUSES)))]
                # Numbers from 5000 on leave the day's real (demo) orders theirs.
                order_id = f"WO{day:%Y%m%d}-{5000 + seq:04d}"
                kind = "on_site" if rng.random() < ON_SITE_SHARE else "drop_off"
                orders.append(
                    {
                        "id": order_id,
                        "kind": kind,
                        "status": status,
                        "model_code": model,
                        "fault": "模拟故障",
                        "error_code": code,
                        "steps_tried": [],
                        "station_code": stations[int(rng.integers(len(stations)))],
                        "slot_date": day,
                        "channel": CHANNELS[int(rng.integers(len(CHANNELS)))],
                        "reschedule_count": 0,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                if kind == "on_site" and status not in ("scheduled", "cancelled"):
                    orders[-1]["responded_at"] = at + timedelta(hours=float(rng.exponential(20.0)))
                if status == "closed":
                    hours = float(rng.exponential(60.0))
                    closed = at + timedelta(hours=hours)
                    events.append(
                        {
                            "work_order_id": order_id,
                            "at": closed,
                            "status": "closed",
                            "note": "",
                            "actor": "synthetic",
                        }
                    )
                    _after_sales(orders[-1], closed, rng, loop)
        if len(orders) >= BATCH:
            await _flush(db, orders, events, loop)
    await _flush(db, orders, events, loop)
    await _conversations(db, clock, plan, first, rng)
    return made


def _moment(clock: Clock, day: date, rng: np.random.Generator) -> datetime:
    minutes = int(rng.integers(8 * 60, 20 * 60))
    local = clock.local(day, "00:00") + timedelta(minutes=minutes)
    return Clock.to_db(local)


async def _flush(
    db: Database,
    orders: list[dict[str, Any]],
    events: list[dict[str, Any]],
    loop: dict[str, list[dict[str, Any]]],
) -> None:
    if orders:
        # Every row of one insert names the same columns (responded_at, rating: None).
        for order in orders:
            order.setdefault("responded_at", None)
            order.setdefault("rating", None)
        async with db.write() as conn:
            await conn.execute(tables.work_orders.insert(), orders)
            if events:
                await conn.execute(tables.work_order_events.insert(), events)
            for name, rows in loop.items():
                if rows:
                    await conn.execute(getattr(tables, name).insert(), rows)
    orders.clear()
    events.clear()
    for rows in loop.values():
        rows.clear()


def _after_sales(
    order: dict[str, Any],
    closed: datetime,
    rng: np.random.Generator,
    loop: dict[str, list[dict[str, Any]]],
) -> None:
    """The survey of a closed order (sent; rated by most customers) and its 回访."""
    sent = closed + timedelta(hours=2)
    loop["notifications"].append(
        {
            "work_order_id": order["id"],
            "event": "csat",
            "round": 1,
            "response": "utter_csat_invite",
            "facts": {},
            "urgent": False,
            "status": "sent",
            "due_at": sent,
            "attempts": 1,
            "channel": order["channel"],
            "created_at": closed,
            "sent_at": sent,
        }
    )
    if rng.random() < RATED_SHARE:
        order["rating"] = int(rng.choice(SCORES, p=SCORE_WEIGHTS))
    outcome = str(rng.choice(FOLLOWUP_OUTCOMES, p=FOLLOWUP_WEIGHTS))
    loop["followups"].append(
        {
            "work_order_id": order["id"],
            "round": 1,
            "status": "scheduled" if outcome in ("", "unreachable") else "answered",
            "outcome": outcome or None,
            "note": "",
            "attempts": 1,
            "asked_at": sent,
            "created_at": closed,
            "updated_at": sent,
        }
    )


async def _conversations(
    db: Database, clock: Clock, plan: Plan, first: date, rng: np.random.Generator
) -> None:
    """Conversation facts and the handoffs of the handed-off ones."""
    rows: list[dict[str, Any]] = []
    handoffs: list[dict[str, Any]] = []
    for offset in range(plan.days):
        day = first + timedelta(days=offset)
        for n in range(int(rng.poisson(plan.conversations_per_day))):
            at = _moment(clock, day, rng)
            handed = bool(rng.random() < 0.2)
            turns = int(rng.integers(1, 12))
            conversation = f"synthetic-{day:%Y%m%d}-{n}"
            rows.append(
                {
                    "conversation_id": conversation,
                    "day": day,
                    "channel": CHANNELS[int(rng.integers(len(CHANNELS)))],
                    "user_turns": turns,
                    "fallback_turns": int(rng.binomial(turns, 0.08)),
                    "handed_off": handed,
                    "first_at": at,
                }
            )
            if handed:
                handoffs.append(
                    {
                        "id": f"HO{day:%Y%m%d}-{5000 + n:04d}",
                        "conversation_id": conversation,
                        "channel": rows[-1]["channel"],
                        "reason": REASONS[int(rng.integers(len(REASONS)))],
                        "status": "closed",
                        "package": {},
                        "created_at": at,
                        "updated_at": at,
                    }
                )
        if len(rows) >= BATCH or offset == plan.days - 1:
            async with db.write() as conn:
                if rows:
                    await conn.execute(tables.report_conversations.insert(), rows)
                if handoffs:
                    await conn.execute(tables.handoffs.insert(), handoffs)
            rows.clear()
            handoffs.clear()
