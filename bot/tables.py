"""The relational schema, as SQLAlchemy Core tables. Migrations in `bot/migrations` create it.

Timestamps are stored as naive UTC (`Clock.to_db`) so that SQLite and PostgreSQL hold the
same values; dates are civil dates in the service's time zone.

Over 350 lines on purpose: one table after another, the schema in one place (migrations mirror
it).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- catalogue ---------------------------------------------------------------------------

categories = Table(
    "categories",
    metadata,
    Column("code", String(20), primary_key=True),
    Column("name", String(40), nullable=False),
    Column("synonyms", JSON, nullable=False),
)

parts = Table(
    "parts",
    metadata,
    Column("code", String(30), primary_key=True),
    Column("name", String(40), nullable=False),
    Column("synonyms", JSON, nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("code", String(30), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("category", String(20), ForeignKey("categories.code"), nullable=False, index=True),
    Column("series", String(40), nullable=False),
    Column("launched_on", Date, nullable=False),
    Column("parts", JSON, nullable=False),
    Column("specs", JSON, nullable=False),
    Column("compatible_consumables", JSON, nullable=False),
)

firmware_releases = Table(
    "firmware_releases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_code", String(30), ForeignKey("models.code"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("version", String(40), nullable=False),
    Column("released_on", Date, nullable=False),
    Column("notes", Text, nullable=False),
    Column("compatibility", Text, nullable=False),
    UniqueConstraint(
        "model_code", "kind", "version", name="uq_firmware_releases_model_kind_version"
    ),
)

# --- warranty ----------------------------------------------------------------------------

policies = Table(
    "policies",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("title", String(100), nullable=False),
    Column("legal", Boolean, nullable=False),
    Column("categories", JSON, nullable=False),
    # The whole policy table (windows, exclusions, citations) as validated data.
    Column("document", JSON, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("serial", String(12), primary_key=True),
    Column("model_code", String(30), ForeignKey("models.code"), nullable=False, index=True),
    # Null when the customer has no invoice: the policy's no_invoice exclusion then applies.
    Column("invoice_date", Date, nullable=True),
    Column("seller", String(100), nullable=False),
    Column("invoice_no", String(40), nullable=True),
    Column("extended_until", Date, nullable=True),
    Column("customer_name", String(40), nullable=True),
    Column("customer_phone", String(20), nullable=True),
    Column("city", String(20), nullable=True),
    Column("created_at", DateTime, nullable=False),
)

repairs = Table(
    "repairs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("serial", String(12), ForeignKey("devices.serial"), nullable=False, index=True),
    Column("repaired_on", Date, nullable=False),
    Column("part", String(30), nullable=True),
    Column("fault", Text, nullable=False),
    Column("work_order_id", String(15), nullable=True),
    Column("note", Text, nullable=False, default=""),
)

warranty_plans = Table(
    "warranty_plans",
    metadata,
    Column("code", String(30), primary_key=True),
    Column("name", String(60), nullable=False),
    Column("categories", JSON, nullable=False),
    Column("years", Integer, nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("description", Text, nullable=False),
)

warranty_extensions = Table(
    "warranty_extensions",
    metadata,
    Column("id", String(15), primary_key=True),
    Column("serial", String(12), ForeignKey("devices.serial"), nullable=False, index=True),
    Column("plan_code", String(30), ForeignKey("warranty_plans.code"), nullable=False),
    Column("purchased_on", Date, nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("idempotency_key", String(100), nullable=True, unique=True),
    Column("created_at", DateTime, nullable=False),
)

# --- authenticity ------------------------------------------------------------------------

security_batches = Table(
    "security_batches",
    metadata,
    Column("code", String(30), primary_key=True),
    Column("model_code", String(30), ForeignKey("models.code"), nullable=False),
    Column("produced_on", Date, nullable=False),
    Column("quantity", Integer, nullable=False),
)

security_codes = Table(
    "security_codes",
    metadata,
    Column("code", String(16), primary_key=True),
    Column(
        "batch_code", String(30), ForeignKey("security_batches.code"), nullable=False, index=True
    ),
    Column("query_count", Integer, nullable=False, default=0),
    Column("first_queried_at", DateTime, nullable=True),
    Column("last_queried_at", DateTime, nullable=True),
)

security_queries = Table(
    "security_queries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Not a foreign key: unknown codes are recorded too, they are the brute-force signal.
    Column("code", String(16), nullable=False, index=True),
    Column("source", String(100), nullable=False),
    Column("result", String(20), nullable=False),
    Column("queried_at", DateTime, nullable=False),
    Index("ix_security_queries_source_at", "source", "queried_at"),
)

counterfeit_reports = Table(
    "counterfeit_reports",
    metadata,
    Column("id", String(15), primary_key=True),
    Column("code", String(16), nullable=True),
    Column("model_code", String(30), nullable=True),
    Column("source", String(100), nullable=False),
    Column("conversation_id", String(100), nullable=True),
    Column("where_bought", Text, nullable=False),
    Column("city", String(20), nullable=True),
    Column("contact", String(60), nullable=True),
    Column("note", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("idempotency_key", String(100), nullable=True, unique=True),
    Column("created_at", DateTime, nullable=False),
)

# --- stations ----------------------------------------------------------------------------

stations = Table(
    "stations",
    metadata,
    Column("code", String(10), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("name", String(100), nullable=False),
    Column("city", String(20), nullable=False, index=True),
    Column("district", String(20), nullable=False),
    Column("address", Text, nullable=False),
    Column("phone", String(30), nullable=False),
    Column("hours", String(60), nullable=False),
    Column("open_weekdays", JSON, nullable=False),
    Column("services", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("daily_capacity", Integer, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
)

# One row per (station, slot) that has ever been booked: `booked` only moves through
# conditional UPDATEs (`booked < capacity`), which is what makes double booking impossible.
slot_loads = Table(
    "slot_loads",
    metadata,
    Column("station_code", String(10), ForeignKey("stations.code"), primary_key=True),
    Column("slot_date", Date, primary_key=True),
    Column("slot_start", String(5), primary_key=True),
    Column("booked", Integer, nullable=False),
    Column("capacity", Integer, nullable=False),
)

# Daily counters behind human-readable ids such as WO20261120-0007.
sequences = Table(
    "sequences",
    metadata,
    Column("prefix", String(4), primary_key=True),
    Column("day", String(8), primary_key=True),
    Column("last", Integer, nullable=False),
)

# --- work orders -------------------------------------------------------------------------

work_orders = Table(
    "work_orders",
    metadata,
    Column("id", String(15), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("serial", String(12), nullable=True, index=True),
    Column("model_code", String(30), nullable=True),
    Column("fault", Text, nullable=False),
    Column("error_code", String(30), nullable=True),
    Column("steps_tried", JSON, nullable=False),
    Column("station_code", String(10), ForeignKey("stations.code"), nullable=False),
    Column("slot_date", Date, nullable=True),
    Column("slot_start", String(5), nullable=True),
    Column("customer_name", String(40), nullable=True),
    Column("phone", String(20), nullable=True),
    Column("address", Text, nullable=True),
    Column("conversation_id", String(100), nullable=True, index=True),
    Column("channel", String(20), nullable=True),
    Column("reschedule_count", Integer, nullable=False, default=0),
    Column("rating", Integer, nullable=True),
    Column("rating_comment", Text, nullable=True),
    Column("rated_at", DateTime, nullable=True),
    Column("idempotency_key", String(100), nullable=True, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # The station's side (bot/station): who took the order, when it was accepted, and when an
    # on-site engineer set off (the response promised by city tier).
    Column("engineer", String(40), nullable=True),
    Column("accepted_at", DateTime, nullable=True),
    Column("responded_at", DateTime, nullable=True),
    Index("ix_work_orders_station_status", "station_code", "status"),
)

work_order_events = Table(
    "work_order_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("work_order_id", String(15), ForeignKey("work_orders.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("note", Text, nullable=False),
    Column("actor", String(60), nullable=False),
    # Part codes used in this step (a station's repair record).
    Column("parts", JSON, nullable=True),
)

# Every check of a work order's phone (a customer proving the order is theirs). Failures from
# one conversation limit its tries; failures from all conversations lock the order's check.
phone_checks = Table(
    "phone_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("work_order_id", String(15), ForeignKey("work_orders.id"), nullable=False),
    Column("conversation_id", String(100), nullable=False),
    Column("matched", Boolean, nullable=False),
    Column("at", DateTime, nullable=False),
    Index("ix_phone_checks_order_at", "work_order_id", "at"),
)

# --- knowledge ---------------------------------------------------------------------------

knowledge_cases = Table(
    "knowledge_cases",
    metadata,
    Column("code", String(10), primary_key=True),
    Column("category", String(20), ForeignKey("categories.code"), nullable=False),
    Column("models", JSON, nullable=False),
    Column("title", String(100), nullable=False),
    Column("symptoms", JSON, nullable=False),
    Column("error_codes", JSON, nullable=False),
    Column("steps", JSON, nullable=False),
    Column("stop_when", Text, nullable=False),
    Column("suspect_part", String(30), nullable=True),
    Column("performance_fault", Boolean, nullable=False),
    Column("safety", Boolean, nullable=False),
)

# What a station found when it closed a repair (coded), the fault-case base's raw material.
repair_outcomes = Table(
    "repair_outcomes",
    metadata,
    Column("work_order_id", String(15), ForeignKey("work_orders.id"), primary_key=True),
    Column("station_code", String(10), nullable=False),
    Column("model_code", String(30), nullable=True),
    # Normalised (bot.knowledge.normalize_code), so that E-202 and e202 are one code.
    Column("error_code", String(30), nullable=True),
    Column("root_cause", String(30), nullable=False),
    Column("fix", String(30), nullable=False),
    Column("parts", JSON, nullable=False),
    Column("note", Text, nullable=False),
    Column("closed_at", DateTime, nullable=False),
    Index("ix_repair_outcomes_model_code", "model_code", "error_code"),
)

# A fix that keeps recurring for one model and error code: a draft fault case that a
# supervisor approves (it then becomes a knowledge case the bot uses) or rejects.
case_drafts = Table(
    "case_drafts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_code", String(30), nullable=False),
    Column("error_code", String(30), nullable=False),
    Column("root_cause", String(30), nullable=False),
    Column("fix", String(30), nullable=False),
    Column("parts", JSON, nullable=False),
    Column("symptoms", JSON, nullable=False),
    Column("steps", JSON, nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("case_code", String(10), nullable=True),
    Column("reviewed_by", Integer, ForeignKey("staff.id"), nullable=True),
    Column("reviewed_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("model_code", "error_code", "root_cause", "fix"),
)

synonyms = Table(
    "synonyms",
    metadata,
    Column("variant", String(60), primary_key=True),
    Column("canonical", String(60), nullable=False),
)

dictionary_terms = Table(
    "dictionary_terms",
    metadata,
    Column("term", String(60), primary_key=True),
)

# --- complaints and handoffs -------------------------------------------------------------

complaints = Table(
    "complaints",
    metadata,
    Column("id", String(15), primary_key=True),
    Column("conversation_id", String(100), nullable=True, index=True),
    Column("channel", String(20), nullable=True),
    Column("serial", String(12), nullable=True),
    Column("work_order_id", String(15), nullable=True),
    Column("severity", String(10), nullable=False),
    Column("text", Text, nullable=False),
    Column("contact", String(60), nullable=True),
    Column("status", String(20), nullable=False, index=True),
    Column("resolution", Text, nullable=True),
    Column("idempotency_key", String(100), nullable=True, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # Escalation (bot/complaints/escalation.py): who must act (agent, supervisor, manager), by
    # when, and the desk member who took it; a serious one is closed by its reviewer.
    Column("level", String(12), nullable=False, server_default="agent"),
    Column("owner", String(40), nullable=True),
    Column("due_at", DateTime, nullable=True, index=True),
    Column("reviewed_by", String(40), nullable=True),
    Column("closed_at", DateTime, nullable=True),
)

# Each step of a complaint (opened, taken, escalated, resolved, reviewed, closed), shown on the
# desk; an escalation's row is unique per level so two processes cannot both record it.
complaint_events = Table(
    "complaint_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("complaint_id", String(15), ForeignKey("complaints.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("kind", String(12), nullable=False),
    Column("level", String(12), nullable=False),
    Column("actor", String(60), nullable=False),
    Column("note", Text, nullable=False),
)

handoffs = Table(
    "handoffs",
    metadata,
    Column("id", String(15), primary_key=True),
    Column("conversation_id", String(100), nullable=False, index=True),
    Column("channel", String(20), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("package", JSON, nullable=False),
    Column("complaint_id", String(15), ForeignKey("complaints.id"), nullable=True),
    Column("idempotency_key", String(100), nullable=True, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# --- support desk ------------------------------------------------------------------------

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(40), nullable=False, unique=True),
    Column("display_name", String(40), nullable=False),
    Column("role", String(12), nullable=False),
    # Station staff (role "station") see and move only this station's work orders.
    Column("station_code", String(10), ForeignKey("stations.code"), nullable=True),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    # Only a hash of the cookie is stored: a leaked table does not log anyone in.
    Column("token_hash", String(64), primary_key=True),
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

# Who holds a handed-off conversation, and how it ended.
desk_assignments = Table(
    "desk_assignments",
    metadata,
    Column("handoff_id", String(15), ForeignKey("handoffs.id"), primary_key=True),
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=True, index=True),
    Column("claimed_at", DateTime, nullable=True),
    Column("notified_at", DateTime, nullable=True),
    Column("callback_phone", String(30), nullable=True),
    Column("resolution", String(30), nullable=True),
    Column("closed_at", DateTime, nullable=True),
)

# The customer's score for the agent who held a handoff (1-5, the chat's one-tap rating when
# the agent closes or hands back); one per handoff, a second tap changes it.
agent_ratings = Table(
    "agent_ratings",
    metadata,
    Column("handoff_id", String(15), ForeignKey("handoffs.id"), primary_key=True),
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=False, index=True),
    Column("conversation_id", String(100), nullable=False),
    Column("score", Integer, nullable=False),
    Column("rated_at", DateTime, nullable=False, index=True),
)

# The live feed of the desk: customer, bot and agent messages of handed-off conversations,
# private notes, and changes of a handoff's state. Every desk process tails this table, so a
# message reaches every agent's browser whichever process received it.
desk_messages = Table(
    "desk_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(100), nullable=False, index=True),
    Column("handoff_id", String(15), nullable=True, index=True),
    Column("kind", String(12), nullable=False),
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=True),
    Column("text", Text, nullable=False),
    Column("data", JSON, nullable=True),
    # Rasa's event timestamp: one customer message seen twice (broker redelivery, two desk
    # processes) is stored once.
    Column("dedupe_key", String(64), nullable=True, unique=True),
    Column("sent_at", Float, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

desk_audit = Table(
    "desk_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=True, index=True),
    Column("action", String(30), nullable=False),
    Column("handoff_id", String(15), nullable=True, index=True),
    Column("detail", JSON, nullable=False),
    Column("at", DateTime, nullable=False),
)

# How far the desk has read Rasa's SQL event broker table.
desk_cursors = Table(
    "desk_cursors",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("position", Integer, nullable=False),
)

# --- insight: early warning and reports --------------------------------------------------

# One row per alert the detector raised (bot.insight.alerts); the same cell raises once a day
# at most, so a scan run twice stores nothing twice.
insight_alerts = Table(
    "insight_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("raised_on", Date, nullable=False, index=True),
    Column("model_code", String(30), nullable=False),
    Column("fault_code", String(40), nullable=False),
    Column("region", String(20), nullable=True),
    Column("rule", String(12), nullable=False),
    Column("since", Date, nullable=False),
    Column("observed", Integer, nullable=False),
    Column("expected", Float, nullable=False),
    Column("p_value", Float, nullable=False),
    Column("statistic", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("arl0_days", Float, nullable=False),
    Column("units", Float, nullable=True),
    Column("regions", JSON, nullable=False),
    Column("summary", Text, nullable=False),
    # new → acknowledged | dismissed | escalated (the last decision; all are in the next table)
    Column("status", String(12), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("raised_on", "model_code", "fault_code", name="uq_insight_alerts_cell_day"),
)

# Every decision on an alert, who and when: kept, never overwritten.
insight_decisions = Table(
    "insight_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("insight_alerts.id"), nullable=False, index=True),
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=False),
    Column("action", String(12), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", DateTime, nullable=False),
)

# Daily rollups of the reports (bot.reports.rollups): one counter per day, metric, model,
# station, channel ("" where one does not apply) and key, and the same counters summed over
# any of the three ("*": all), so that a chart reads only the rows of the grain its filters
# need (`grain` names the dimensions kept: "msc" the finest, "" the day's totals). Product
# category and region are the model's and the station's (small tables joined).
report_daily = Table(
    "report_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("metric", String(20), primary_key=True),
    Column("model_code", String(30), primary_key=True),
    Column("station_code", String(10), primary_key=True),
    Column("channel", String(20), primary_key=True),
    Column("key", String(40), primary_key=True),
    Column("grain", String(3), nullable=False),
    Column("value", Integer, nullable=False),
    # A chart reads one metric at one grain over a period; a model, category, station or
    # region filter seeks its own rows instead of reading all the grain's.
    Index("ix_report_daily_metric_grain_day", "metric", "grain", "day"),
    Index("ix_report_daily_metric_grain_model", "metric", "grain", "model_code", "day"),
    Index("ix_report_daily_metric_grain_station", "metric", "grain", "station_code", "day"),
)

# One row per conversation the assistant had, from Rasa's events (bot.reports.conversations):
# the facts the conversation metrics are defined on.
report_conversations = Table(
    "report_conversations",
    metadata,
    Column("conversation_id", String(100), primary_key=True),
    Column("day", Date, nullable=False, index=True),
    Column("channel", String(20), nullable=False),
    Column("user_turns", Integer, nullable=False),
    Column("fallback_turns", Integer, nullable=False),
    Column("handed_off", Boolean, nullable=False),
    # The last diagnosis the bot ran in it (a fault report for the early warning).
    Column("model_code", String(30), nullable=True),
    Column("fault_code", String(40), nullable=True),
    Column("first_at", DateTime, nullable=False),
)

# The reports count the backend's own rows by day, and refresh the days of changed rows.
Index("ix_work_orders_created_at", work_orders.c.created_at)
Index("ix_work_orders_updated_at", work_orders.c.updated_at)
Index("ix_handoffs_created_at", handoffs.c.created_at)
Index("ix_complaints_created_at", complaints.c.created_at)
# --- outbox: what the customer is told later ---------------------------------------------

# One row per message to a customer about a work order: a change of its state, the survey
# (csat, csat_reminder), the 回访 question (followup). Written in the transaction of the change;
# (order, event, round) makes it exist once. A worker claims a due row with a lease
# (claimed_by, lease_until), sends it and marks it sent; `stamp` is the first attempt's time,
# sent with the message so that a channel can tell a repeat after a crash.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # An order's notice, or a complaint's (its number, its outcome): exactly one of the two.
    Column("work_order_id", String(15), ForeignKey("work_orders.id"), nullable=True),
    Column("complaint_id", String(15), ForeignKey("complaints.id"), nullable=True),
    Column("event", String(30), nullable=False),
    Column("round", Integer, nullable=False),
    Column("response", String(60), nullable=False),
    Column("facts", JSON, nullable=False),
    Column("urgent", Boolean, nullable=False),
    # pending, sent, skipped (nobody to tell, or no longer true), cancelled, failed
    Column("status", String(12), nullable=False),
    Column("due_at", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(60), nullable=True),
    Column("lease_until", DateTime, nullable=True),
    Column("stamp", Float, nullable=True),
    Column("channel", String(20), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime, nullable=True),
    UniqueConstraint("work_order_id", "event", "round", name="uq_notifications_order_event_round"),
    UniqueConstraint(
        "complaint_id", "event", "round", name="uq_notifications_complaint_event_round"
    ),
    Index("ix_notifications_status_due", "status", "due_at"),
)

# The 回访 of one close of a work order: the bot asks, an answer ends it; without one it becomes
# a task for staff (due_at set), who record an outcome (unreachable: due again the next day).
followups = Table(
    "followups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("work_order_id", String(15), ForeignKey("work_orders.id"), nullable=False),
    Column("round", Integer, nullable=False),
    # scheduled, answered (by the customer), done (by staff), cancelled (reopened)
    Column("status", String(12), nullable=False),
    Column("outcome", String(12), nullable=True),
    Column("note", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("asked_at", DateTime, nullable=True),
    Column("due_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("work_order_id", "round", name="uq_followups_order_round"),
    Index("ix_followups_status_due", "status", "due_at"),
)

# --- desk routing (bot/desk/assign.py, bot/desk/sla.py) ------------------------------------

# Teams are configured (BOT_DESK_TEAMS); who belongs to which is the supervisors' to change.
desk_team_members = Table(
    "desk_team_members",
    metadata,
    Column("team_code", String(20), primary_key=True),
    Column("staff_id", Integer, ForeignKey("staff.id"), primary_key=True),
)

# Agents on duty take automatically assigned customers; off duty (a break) they take none.
desk_duty = Table(
    "desk_duty",
    metadata,
    Column("staff_id", Integer, ForeignKey("staff.id"), primary_key=True),
    Column("on_duty", Boolean, nullable=False),
    Column("changed_at", DateTime, nullable=False),
)

# A handoff's team and when an agent answered it (the SLA timers). The note of a transfer
# is a private note in desk_messages, so erasing a customer's data erases it too.
desk_routing = Table(
    "desk_routing",
    metadata,
    Column("handoff_id", String(15), ForeignKey("handoffs.id"), primary_key=True),
    Column("team_code", String(20), nullable=True, index=True),
    Column("first_response_at", DateTime, nullable=True),
    Column("last_agent_at", DateTime, nullable=True),
)

# --- attachments (photos and files in a conversation) --------------------------------------

attachments = Table(
    "attachments",
    metadata,
    # A random token: the name in URLs; the file on disk has its own random name.
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(100), nullable=False, index=True),
    Column("channel", String(20), nullable=False),
    # customer or agent
    Column("sender", String(10), nullable=False),
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=True),
    Column("name", String(120), nullable=False),
    Column("content_type", String(40), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("stored_as", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
)
