"""Settings of the service backend, read from the environment only.

Over 350 lines on purpose: every setting of the backend, its default and how it is read, in
one place that README's settings table follows; the groups (outbox, complaints, routing) are
dataclasses of their own here so that one file answers "what can I set?".
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.throttle import Network, parse_networks

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "var"
DEFAULT_CITY_TIERS = "北京,上海,广州,深圳|杭州,南京,苏州,成都,武汉,西安,天津,重庆"


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _networks(env: dict[str, str], name: str) -> tuple[Network, ...]:
    try:
        return parse_networks(env.get(name) or "")
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _url(env: dict[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def _redis_url(env: dict[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if raw and urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"{name} must be a redis://, rediss:// or unix:// URL, got {raw!r}")
    return raw or None


def _moment(env: dict[str, str], name: str, tz: ZoneInfo) -> datetime | None:
    raw = env.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO date and time, got {raw!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _hours(raw: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})\s*", raw)
    if not match or not match.group(1) < match.group(2) <= "24:00":
        raise ValueError(f"BOT_DESK_HOURS must look like 09:00-21:00, got {raw!r}")
    return match.group(1), match.group(2)


def _response_hours(raw: str) -> tuple[int, int, int]:
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"BOT_ONSITE_RESPONSE_HOURS must be three hours (24,48,72), got {raw!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _city_tiers(raw: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    first, sep, second = raw.partition("|")
    if not sep:
        raise ValueError(f"BOT_CITY_TIERS must be 'tier-1 cities|tier-2 cities', got {raw!r}")
    return tuple(c.strip() for c in first.split(",") if c.strip()), tuple(
        c.strip() for c in second.split(",") if c.strip()
    )


def _grace(env: dict[str, str]) -> int:
    value = _int(env, "BOT_SHUTDOWN_GRACE", 5)
    if not 0 <= value <= 8:
        raise ValueError(f"BOT_SHUTDOWN_GRACE must be 0 to 8 (seconds), got {value}")
    return value


def _clock_range(env: dict[str, str], name: str, default: str) -> tuple[str, str]:
    raw = env.get(name) or default
    match = re.fullmatch(r"\s*(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})\s*", raw)
    if not match or match.group(1) == match.group(2) or max(match.groups()) > "23:59":
        raise ValueError(f"{name} must look like 21:00-09:00, got {raw!r}")
    return match.group(1), match.group(2)


@dataclass(frozen=True)
class Team:
    """A desk team: the handoffs it takes, by reason (complaint, angry) or product category."""

    code: str
    name: str
    reasons: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


DEFAULT_TEAMS = (
    "complaints=投诉组:@complaint,@angry;"
    "printers=打印机组:printer,copier,toner,ink,drum;"
    "laptops=电脑组:laptop,desktop,monitor,battery,mainboard"
)


def _teams(raw: str) -> tuple[Team, ...]:
    """BOT_DESK_TEAMS: `code=名称:@reason,category,…;…`; the first team that matches wins."""
    teams = []
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        code, _, rest = part.partition("=")
        name, _, matches = rest.partition(":")
        words = [w.strip() for w in matches.split(",") if w.strip()]
        if not code.strip() or not name.strip():
            raise ValueError(f"BOT_DESK_TEAMS: {part!r} must look like code=名称:@reason,category")
        teams.append(
            Team(
                code.strip(),
                name.strip(),
                tuple(w[1:] for w in words if w.startswith("@")),
                tuple(w for w in words if not w.startswith("@")),
            )
        )
    return tuple(teams)


@dataclass(frozen=True)
class RoutingSettings:
    """Who gets a waiting customer (bot/desk/assign.py) and how fast they must answer
    (bot/desk/sla.py)."""

    # Off by default: agents claim from the queue; on, the desk gives each new customer to
    # the least-loaded agent on duty (of the handoff's team when one of its members is).
    auto_assign: bool = False
    # Open conversations an agent holds at most before automatic assignment skips them.
    agent_limit: int = 4
    assign_poll_seconds: float = 2.0
    first_response_seconds: int = 120
    next_response_seconds: int = 180
    # The timer turns amber at this share of the target, red when the target is missed.
    warn_percent: int = 75
    teams: tuple[Team, ...] = field(default_factory=lambda: _teams(DEFAULT_TEAMS))

    @classmethod
    def from_env(cls, env: dict[str, str]) -> RoutingSettings:
        return cls(
            auto_assign=env.get("BOT_DESK_AUTO_ASSIGN", "").lower() in ("1", "on", "true", "yes"),
            agent_limit=_positive(env, "BOT_DESK_AGENT_LIMIT", 4),
            assign_poll_seconds=_positive(env, "BOT_DESK_ASSIGN_POLL_MS", 2000) / 1000,
            first_response_seconds=_positive(env, "BOT_DESK_FIRST_RESPONSE_SECONDS", 120),
            next_response_seconds=_positive(env, "BOT_DESK_NEXT_RESPONSE_SECONDS", 180),
            warn_percent=min(99, _positive(env, "BOT_DESK_SLA_WARN_PERCENT", 75)),
            teams=_teams(env.get("BOT_DESK_TEAMS") or DEFAULT_TEAMS),
        )


@dataclass(frozen=True)
class OutboxSettings:
    """What the customer is told later (bot/outbox.py): when, how often, how insistently."""

    # Off in the in-process tests, which drive `bot.outbox_worker.deliver_due` themselves.
    worker: bool = True
    poll_seconds: float = 1.0
    # A claimed row whose sender died is sent again after this long.
    lease_seconds: int = 60
    max_attempts: int = 8
    # Non-urgent messages wait out the night (local time; the range may wrap midnight).
    quiet_hours: tuple[str, str] = ("21:00", "09:00")
    csat_delay_minutes: int = 120
    csat_reminder_hours: int = 48
    csat_expiry_days: int = 14
    followup_days: int = 3
    # No answer to the bot's 回访 question within this long: a task for staff.
    followup_answer_hours: int = 24
    # A customer is surveyed about one order at most this often (0: about every order): a
    # customer with several repairs closing in one week is not asked again and again.
    survey_gap_days: int = 7

    @classmethod
    def from_env(cls, env: dict[str, str]) -> OutboxSettings:
        return cls(
            worker=env.get("BOT_OUTBOX_WORKER", "on").lower() not in ("0", "off", "false", "no"),
            poll_seconds=_positive(env, "BOT_OUTBOX_POLL_MS", 1000) / 1000,
            lease_seconds=_positive(env, "BOT_OUTBOX_LEASE_SECONDS", 60),
            max_attempts=_positive(env, "BOT_OUTBOX_MAX_ATTEMPTS", 8),
            quiet_hours=_clock_range(env, "BOT_QUIET_HOURS", "21:00-09:00"),
            csat_delay_minutes=_int(env, "BOT_CSAT_DELAY_MINUTES", 120),
            csat_reminder_hours=_positive(env, "BOT_CSAT_REMINDER_HOURS", 48),
            csat_expiry_days=_positive(env, "BOT_CSAT_EXPIRY_DAYS", 14),
            followup_days=_positive(env, "BOT_FOLLOWUP_DAYS", 3),
            followup_answer_hours=_positive(env, "BOT_FOLLOWUP_ANSWER_HOURS", 24),
            survey_gap_days=_int(env, "BOT_SURVEY_GAP_DAYS", 7),
        )


@dataclass(frozen=True)
class ComplaintSettings:
    """When a complaint is due, and how fast an unhandled one climbs (bot/complaints/)."""

    due_hours: int = 24
    # A serious complaint (high or critical) is due sooner.
    serious_due_hours: int = 4
    # Past its due time a complaint goes to the next level (agent, supervisor, manager), which
    # has this long before the next step.
    escalate_hours: int = 4
    # How often the backend looks for complaints past their due time; 0: never (tests step it).
    scan_seconds: int = 60

    @classmethod
    def from_env(cls, env: dict[str, str]) -> ComplaintSettings:
        return cls(
            due_hours=_positive(env, "BOT_COMPLAINT_DUE_HOURS", 24),
            serious_due_hours=_positive(env, "BOT_COMPLAINT_SERIOUS_DUE_HOURS", 4),
            escalate_hours=_positive(env, "BOT_COMPLAINT_ESCALATE_HOURS", 4),
            scan_seconds=_int(env, "BOT_COMPLAINT_SCAN_SECONDS", 60),
        )


@dataclass(frozen=True)
class Settings:
    """Everything the backend needs to start; build with `Settings.from_env()`."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    # The internal API's bearer token (bot.audiences): the action server and the backend's own
    # pages send it; without it every internal route answers 503.
    api_token: str | None = field(default=None, repr=False)
    # Bodies are small JSON documents; anything larger is a mistake or an attack.
    max_body_bytes: int = 64 * 1024
    # The web chat (bot/webchat.py): the key that signs session tokens (the Rasa channel checks
    # them with the same key), how long a token lives unless the page renews it, and where the
    # page finds the socket (None: the page's own host, port 5005, as `make run` starts Rasa).
    chat_secret: str | None = field(default=None, repr=False)
    chat_token_ttl: int = 7 * 24 * 3600
    # However often a page renews its token, a chat session ends after this long.
    chat_session_max_age: int = 30 * 24 * 3600
    chat_socket_url: str | None = None
    # Anti-counterfeit brute-force guard: per source, sliding windows.
    verify_per_minute: int = 10
    verify_unknown_per_hour: int = 20
    # How far ahead customers may book a repair slot.
    booking_horizon_days: int = 14
    # A booking, reschedule or cancellation must be at least this long before the slot starts.
    booking_lead_minutes: int = 60
    # BOT_CLOCK freezes the service's time (a demo or a training session on a chosen day, the
    # conversation tests): work-order ids, slots and warranty ages then never drift.
    frozen_at: datetime | None = None
    # The support desk: Rasa's HTTP API (pause, agent messages, resume) and its event feed
    # (Rasa's SQL event broker table, or a RabbitMQ queue in scale-out).
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str | None = None
    desk_events_url: str = "sqlite:///var/events.db"
    desk_events_queue: str = "rasa_events"
    # A customer waits at most this long for an agent before being offered a callback or a
    # work order; outside the desk's hours the offer comes at once.
    desk_wait_seconds: int = 180
    desk_hours: tuple[str, str] = ("09:00", "21:00")
    desk_session_hours: int = 12
    # Set when the desk is served over HTTPS, so the login cookie never travels in clear.
    desk_cookie_secure: bool = False
    # The address customers and staff open (scheme, host, port): the desk's login accepts
    # this Origin besides its own host, and Rasa's CORS admits the chat page from it (see
    # scripts/rasa_server.py). None: http://127.0.0.1:PORT and http://localhost:PORT.
    public_url: str | None = None
    # Shared counters of the desk login's back-off when several backend processes run; None:
    # in this process's memory (one backend, as `make run`).
    redis_url: str | None = field(default=None, repr=False)
    # Proxies whose X-Forwarded-For is believed; any other peer is the client itself.
    trusted_proxies: tuple[Network, ...] = ()
    # Personal-data lifecycle (bot/privacy.py): how long personal fields of finished work
    # orders, and conversation transcripts, are kept; and where Rasa keeps the transcripts.
    retention_work_orders_days: int = 3 * 365
    retention_transcripts_days: int = 180
    tracker_db_url: str = "sqlite:///var/rasa.db"
    # On SIGTERM, how long requests in flight may take to finish before they are cancelled
    # (bot/serving.py); the whole stop stays under 10 s.
    shutdown_grace_seconds: int = 5
    # Dispatch (bot/station): a booking not accepted by its station within this many minutes
    # of the station's opening hours is flagged to supervisors.
    station_accept_minutes: int = 120
    # The response promised for on-site repairs, in hours, by city tier (1, 2, other), and the
    # cities of tiers 1 and 2.
    onsite_response_hours: tuple[int, int, int] = (24, 48, 72)
    city_tiers: tuple[tuple[str, ...], tuple[str, ...]] = field(
        default_factory=lambda: _city_tiers(DEFAULT_CITY_TIERS)
    )
    # How often the backend runs the early-warning scan (bot/insight/worker.py); 0: never
    # (`python -m bot insight scan` from cron instead, or tests that scan when they choose).
    insight_scan_seconds: int = 900
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    complaints: ComplaintSettings = field(default_factory=ComplaintSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    # Photos and files sent in conversations (bot/attachments): the largest accepted, and
    # where they are kept (outside every directory the backend serves).
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachments_dir: Path = DEFAULT_DATA_DIR / "attachments"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("BOT_DATA_DIR") or DEFAULT_DATA_DIR)
        url = env.get("BOT_DATABASE_URL") or f"sqlite:///{data_dir / 'bot.db'}"
        timezone = ZoneInfo(env.get("BOT_TIMEZONE", "Asia/Shanghai"))
        return cls(
            database_url=url,
            host=env.get("BOT_HOST", "127.0.0.1"),
            port=_int(env, "BOT_PORT", 8000),
            timezone=timezone,
            api_token=env.get("BOT_API_TOKEN") or None,
            max_body_bytes=_int(env, "BOT_MAX_BODY_BYTES", 64 * 1024),
            chat_secret=env.get("CHAT_SECRET") or None,
            chat_token_ttl=_int(env, "CHAT_TOKEN_TTL", 7 * 24 * 3600),
            chat_session_max_age=_int(env, "CHAT_SESSION_MAX_AGE", 30 * 24 * 3600),
            chat_socket_url=_url(env, "CHAT_SOCKET_URL"),
            verify_per_minute=_int(env, "BOT_VERIFY_PER_MINUTE", 10),
            verify_unknown_per_hour=_int(env, "BOT_VERIFY_UNKNOWN_PER_HOUR", 20),
            booking_horizon_days=_int(env, "BOT_BOOKING_HORIZON_DAYS", 14),
            booking_lead_minutes=_int(env, "BOT_BOOKING_LEAD_MINUTES", 60),
            frozen_at=_moment(env, "BOT_CLOCK", timezone),
            rasa_url=env.get("BOT_RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_token=env.get("RASA_TOKEN") or None,
            desk_events_url=env.get("BOT_DESK_EVENTS_URL") or f"sqlite:///{data_dir / 'events.db'}",
            desk_events_queue=env.get("BOT_DESK_EVENTS_QUEUE", "rasa_events"),
            desk_wait_seconds=_int(env, "BOT_DESK_WAIT_SECONDS", 180),
            desk_hours=_hours(env.get("BOT_DESK_HOURS") or "09:00-21:00"),
            desk_session_hours=_int(env, "BOT_DESK_SESSION_HOURS", 12),
            desk_cookie_secure=env.get("BOT_DESK_COOKIE_SECURE", "").lower()
            in ("1", "true", "yes"),
            public_url=_url(env, "BOT_PUBLIC_URL"),
            redis_url=_redis_url(env, "BOT_REDIS_URL"),
            trusted_proxies=_networks(env, "BOT_TRUSTED_PROXIES"),
            retention_work_orders_days=_positive(env, "BOT_RETENTION_WORK_ORDERS_DAYS", 3 * 365),
            retention_transcripts_days=_positive(env, "BOT_RETENTION_TRANSCRIPTS_DAYS", 180),
            tracker_db_url=env.get("BOT_TRACKER_DB_URL") or f"sqlite:///{data_dir / 'rasa.db'}",
            shutdown_grace_seconds=_grace(env),
            station_accept_minutes=_positive(env, "BOT_STATION_ACCEPT_MINUTES", 120),
            onsite_response_hours=_response_hours(
                env.get("BOT_ONSITE_RESPONSE_HOURS") or "24,48,72"
            ),
            city_tiers=_city_tiers(env.get("BOT_CITY_TIERS") or DEFAULT_CITY_TIERS),
            insight_scan_seconds=_int(env, "BOT_INSIGHT_SCAN_SECONDS", 900),
            outbox=OutboxSettings.from_env(env),
            complaints=ComplaintSettings.from_env(env),
            routing=RoutingSettings.from_env(env),
            attachment_max_bytes=_positive(env, "BOT_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024),
            attachments_dir=Path(env.get("BOT_ATTACHMENTS_DIR") or data_dir / "attachments"),
        )

    def desk_open(self, moment: datetime) -> bool:
        """Whether people answer at the desk at `moment` (local time)."""
        start, end = self.desk_hours
        return start <= moment.strftime("%H:%M") < end

    @property
    def public_origins(self) -> tuple[str, ...]:
        """Origins (scheme://host:port) the chat page and the desk are opened from."""
        if self.public_url:
            parts = urlsplit(self.public_url)
            return (f"{parts.scheme}://{parts.netloc}".lower(),)
        return (f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}")

    def clock(self) -> Clock:
        return Clock(self.timezone, fixed=self.frozen_at)
