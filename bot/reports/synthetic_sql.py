"""A large synthetic history made inside PostgreSQL (``generate_series``, no row crosses from
Python): work orders with their closes, surveys, ratings and 回访, on-site responses, and the
conversations of the bot's events with their handoffs. For ``scripts/bench_reports.py`` at
10^6 orders and 10^7 events; the tests use the row-by-row ``bot.reports.synthetic``.

A conversation stands for ``EVENTS_PER_CONVERSATION`` of Rasa's events on average (customer
messages, the bot's answers, actions, slots): the reports read conversation facts
(``report_conversations``), which the backend folds from the events as they arrive, so the
history holds the facts those events fold into. The same shapes as ``bot.reports.synthetic``:
a Zipf-like fault mix (a few codes make most orders), six statuses, 30 % on-site orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import text

from bot.db import Database

EVENTS_PER_CONVERSATION = 10


@dataclass(frozen=True)
class BigPlan:
    orders: int
    events: int
    days: int
    last: date
    timezone: str = "Asia/Shanghai"
    seed: float = 0.42

    @property
    def conversations(self) -> int:
        return self.events // EVENTS_PER_CONVERSATION


# Each statement sees :first (the first civil day), :days, :n, :tz. `pick` is a row's own
# random numbers, drawn once in a subquery so that the columns derived from them agree.
_ORDERS = """
INSERT INTO work_orders (id, kind, status, model_code, fault, error_code, steps_tried,
    station_code, slot_date, channel, reschedule_count, rating, created_at, updated_at,
    responded_at)
SELECT 'S' || lpad(g::text, 14, '0'),
    CASE WHEN r_kind < 0.3 THEN 'on_site' ELSE 'drop_off' END,
    (ARRAY['scheduled','received','diagnosing','repaired','closed','cancelled'])
        [1 + floor(r_status * 6)::int],
    models[1 + floor(r_model * array_length(models, 1))::int],
    '模拟故障',
    'E' || lpad(floor(8 * r_code * r_code * r_code)::text, 3, '0'),
    '[]',
    stations[1 + floor(r_station * array_length(stations, 1))::int],
    day,
    (ARRAY['webchat','telegram','rest'])[1 + floor(r_channel * 3)::int],
    0,
    CASE WHEN r_status >= 4.0 / 6 AND r_status < 5.0 / 6 AND r_rated < 0.6
        THEN (ARRAY[5,5,5,5,5,4,4,4,3,2,1])[1 + floor(r_score * 11)::int] END,
    created, created,
    CASE WHEN r_kind < 0.3 AND r_status >= 1.0 / 6 AND r_status < 5.0 / 6
        THEN created + make_interval(secs => -ln(1 - r_respond) * 20 * 3600) END
FROM (
    SELECT *, ((day + make_interval(mins => minute)) AT TIME ZONE :tz) AT TIME ZONE 'UTC'
        AS created
    FROM (
        SELECT g, random() AS r_kind, random() AS r_status, random() AS r_model,
            random() AS r_code, random() AS r_station, random() AS r_channel,
            random() AS r_rated, random() AS r_score, random() AS r_respond,
            CAST(:first AS date) + floor(random() * :days)::int AS day,
            480 + floor(random() * 720)::int AS minute
        FROM generate_series(1, :n) g
    ) drawn
) pick,
LATERAL (SELECT array_agg(code ORDER BY code) AS models FROM models) m,
LATERAL (SELECT array_agg(code ORDER BY code) AS stations FROM stations WHERE kind <> 'dealer') s
"""

_CLOSES = """
INSERT INTO work_order_events (work_order_id, at, status, note, actor)
SELECT id, created_at + make_interval(secs => -ln(1 - random()) * 60 * 3600), 'closed', '',
    'synthetic'
FROM work_orders WHERE status = 'closed' AND id LIKE 'S%'
"""

_SURVEYS = """
INSERT INTO notifications (work_order_id, event, round, response, facts, urgent, status, due_at,
    attempts, channel, created_at, sent_at)
SELECT e.work_order_id, 'csat', 1, 'utter_csat_invite', '{}', false, 'sent',
    e.at + interval '2 hours', 1, w.channel, e.at, e.at + interval '2 hours'
FROM work_order_events e JOIN work_orders w ON w.id = e.work_order_id
WHERE e.actor = 'synthetic' AND w.id LIKE 'S%'
"""

_FOLLOWUPS = """
INSERT INTO followups (work_order_id, round, status, outcome, note, attempts, asked_at,
    created_at, updated_at)
SELECT work_order_id, 1,
    CASE WHEN r < 0.8 THEN 'answered' ELSE 'scheduled' END,
    CASE WHEN r < 0.6 THEN 'solved' WHEN r < 0.75 THEN 'satisfied' WHEN r < 0.8 THEN 'recurred'
        WHEN r < 0.9 THEN 'unreachable' END,
    '', 1, at + interval '3 days', at, at + interval '3 days'
FROM (SELECT e.work_order_id, e.at, random() AS r FROM work_order_events e
    WHERE e.actor = 'synthetic' AND e.work_order_id LIKE 'S%') pick
"""

_CONVERSATIONS = """
INSERT INTO report_conversations (conversation_id, day, channel, user_turns, fallback_turns,
    handed_off, first_at)
SELECT 'syn-' || g, day, (ARRAY['webchat','telegram','rest'])[1 + floor(r_channel * 3)::int],
    turns, floor(turns * r_fallback * 0.16)::int, r_handed < 0.2,
    ((day + make_interval(mins => 480 + floor(r_minute * 720)::int)) AT TIME ZONE :tz)
        AT TIME ZONE 'UTC'
FROM (
    SELECT g, CAST(:first AS date) + floor(random() * :days)::int AS day, random() AS r_channel,
        1 + floor(random() * 9)::int AS turns, random() AS r_fallback, random() AS r_handed,
        random() AS r_minute
    FROM generate_series(1, :n) g
) pick
"""

_HANDOFFS = """
INSERT INTO handoffs (id, conversation_id, channel, reason, status, package, created_at,
    updated_at)
SELECT 'H' || lpad(substr(conversation_id, 5), 14, '0'), conversation_id, channel,
    (ARRAY['requested','fallback','complaint'])[1 + floor(random() * 3)::int], 'closed', '{}',
    first_at, first_at
FROM report_conversations WHERE handed_off AND conversation_id LIKE 'syn-%'
"""

STEPS = (
    ("work orders", _ORDERS, "orders"),
    ("closes", _CLOSES, None),
    ("surveys", _SURVEYS, None),
    ("回访", _FOLLOWUPS, None),
    ("conversations", _CONVERSATIONS, "conversations"),
    ("handoffs", _HANDOFFS, None),
)


async def generate_in_sql(db: Database, plan: BigPlan) -> dict[str, int]:
    """Insert the history ending on ``plan.last``; the rows made by each step, by name."""
    first = plan.last.toordinal() - plan.days + 1
    made: dict[str, int] = {}
    for name, sql, count in STEPS:
        n = {"orders": plan.orders, "conversations": plan.conversations}.get(count or "", 0)
        async with db.write() as conn:
            await conn.execute(text("SELECT setseed(:s)"), {"s": plan.seed})
            done = await conn.execute(
                text(sql),
                {
                    "first": date.fromordinal(first),
                    "days": plan.days,
                    "n": n,
                    "tz": plan.timezone,
                },
            )
        made[name] = done.rowcount
    async with db.write() as conn:
        await conn.execute(text("ANALYZE"))
    return made
