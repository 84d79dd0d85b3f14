"""Replay the customer conversations of tests/customers through the REST channel.

The measuring instrument of issue 12: conversations written apart from the training data, the
way customers write, sent turn by turn to the running system; each one is judged by the checks
written next to it (what the bot must say, must never say, and what the backend must hold
afterwards) as completed, partial or failed. Prints the completion rate per journey.

    python scripts/replay_customers.py                   # against `make run` (5005 / 8000)
    python scripts/replay_customers.py --start-stack     # starts and stops its own system
    python scripts/replay_customers.py --only booking --json var/customers.json
    python scripts/replay_customers.py --check           # validate the data, no system needed

The format of the conversations is described in tests/customers/README.md. The exit code is 0
whatever the completion rate (this is a measurement); 2 when the system cannot be reached, 1
when the data is invalid.

Over 350 lines on purpose: a self-contained measuring instrument (conversation format,
simulated customer, checks, report) that runs without the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "customers"
OUTCOMES = ("completed", "partial", "failed")
RECORDS = ("workorders", "complaints", "handoffs")
# A customer who keeps answering questions stops after this many unscripted answers.
MAX_EXTRA_TURNS = 12
ORDER_STATES = {
    # The transitions that bring a freshly booked (scheduled) order to the given state.
    "scheduled": (),
    "cancelled": ("cancelled",),
    "received": ("received",),
    "diagnosing": ("received", "diagnosing"),
    "waiting_parts": ("received", "diagnosing", "waiting_parts"),
    "repaired": ("received", "diagnosing", "repaired"),
    "closed": ("received", "diagnosing", "repaired", "closed"),
}
PLACEHOLDER = re.compile(r"\{(\w+)(?:\|(\w+))?\}")


class DataError(Exception):
    """The conversation files are not valid."""


class Unreachable(Exception):
    """The assistant or the backend does not answer at all."""


# ----------------------------------------------------------------------------------- the data


@dataclass
class Reply:
    """What the customer answers: a text, or the button whose title contains one of `click`."""

    text: str | None = None
    click: list[str] = field(default_factory=list)


@dataclass
class Turn:
    reply: Reply
    when: re.Pattern[str] | None = None
    silent_ok: bool = False


@dataclass
class Known:
    """A fact the customer gives when the bot's last message asks for it."""

    asked: re.Pattern[str]
    reply: Reply
    times: int = 1


@dataclass
class Check:
    kind: str  # expect | expect_any | forbid | record | fetch
    why: str
    severity: str
    patterns: list[re.Pattern[str]] = field(default_factory=list)
    turns: set[int] | None = None  # scripted turns (1-based) whose replies are looked at
    before: re.Pattern[str] | None = None
    unless: re.Pattern[str] | None = None  # forbid: a message matching this is fine
    record: str = ""
    fetch: str = ""  # a backend path, placeholders allowed
    where: dict[str, str] = field(default_factory=dict)
    count: str = "any"  # any | none


@dataclass
class Conversation:
    id: str
    journey: str
    turns: list[Turn]
    checks: list[Check]
    knows: list[Known] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    setup: dict[str, dict[str, Any]] = field(default_factory=dict)
    note: str = ""

    def texts(self) -> Iterator[str]:
        for turn in self.turns:
            if turn.reply.text:
                yield turn.reply.text
        for known in self.knows:
            if known.reply.text:
                yield known.reply.text


def _regex(value: Any, where: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise DataError(f"{where}: a regular expression (non-empty string) is expected")
    try:
        return re.compile(value, re.S)
    except re.error as err:
        raise DataError(f"{where}: bad regular expression {value!r}: {err}") from err


def _regexes(value: Any, where: str) -> list[re.Pattern[str]]:
    items = value if isinstance(value, list) else [value]
    return [_regex(item, where) for item in items]


def _keys(raw: Any, allowed: set[str], required: set[str], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: a mapping is expected, got {raw!r}")
    unknown = set(raw) - allowed
    if unknown:
        raise DataError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(allowed)})")
    missing = required - set(raw)
    if missing:
        raise DataError(f"{where}: missing keys {sorted(missing)}")
    return raw


def _reply(raw: Any, where: str) -> Reply:
    if isinstance(raw, str):
        return Reply(text=raw)
    spec = _keys(raw, {"text", "click"}, set(), where)
    if ("text" in spec) == ("click" in spec):
        raise DataError(f"{where}: give either text or click")
    if "text" in spec:
        if not isinstance(spec["text"], str) or not spec["text"].strip():
            raise DataError(f"{where}: text must be a non-empty string")
        return Reply(text=spec["text"])
    click = spec["click"] if isinstance(spec["click"], list) else [spec["click"]]
    if not click or not all(isinstance(c, str) and c for c in click):
        raise DataError(f"{where}: click takes a button title or a list of them")
    return Reply(click=click)


def _turn_numbers(value: Any, count: int, where: str) -> set[int]:
    numbers = value if isinstance(value, list) else [value]
    if not all(isinstance(n, int) and 1 <= n <= count for n in numbers):
        raise DataError(f"{where}: turn must be a turn number from 1 to {count} (or a list)")
    return set(numbers)


CHECK_KEYS = {
    "expect",
    "expect_any",
    "forbid",
    "record",
    "fetch",
    "why",
    "severity",
    "turn",
    "before",
    "unless",
    "where",
    "count",
}


def _check(raw: Any, turns: int, setup: dict[str, Any], where: str) -> Check:
    spec = _keys(raw, CHECK_KEYS, {"why"}, where)
    kinds = [k for k in ("expect", "expect_any", "forbid", "record", "fetch") if k in spec]
    if len(kinds) != 1:
        raise DataError(f"{where}: one of expect, expect_any, forbid, record, fetch per check")
    kind = kinds[0]
    severity = spec.get("severity")
    count = spec.get("count", "any")
    if count not in ("any", "none"):
        raise DataError(f"{where}: count is any or none")
    if severity is None:
        severity = "failed" if kind == "forbid" or count == "none" else "partial"
    if severity not in ("partial", "failed"):
        raise DataError(f"{where}: severity is partial or failed")
    check = Check(kind=kind, why=str(spec["why"]), severity=severity, count=count)
    if kind in ("expect", "expect_any", "forbid"):
        check.patterns = _regexes(spec[kind], where)
        if "where" in spec or "count" in spec:
            raise DataError(f"{where}: where/count belong to record and fetch checks")
    else:
        if "turn" in spec or "before" in spec or "unless" in spec:
            raise DataError(f"{where}: turn/before/unless belong to message checks")
        where_spec = spec.get("where", {})
        if not isinstance(where_spec, dict):
            raise DataError(f"{where}: where is a mapping of field to regular expression")
        for key, value in where_spec.items():
            try:  # "" is allowed: the field is empty or null
                re.compile(str(value))
            except re.error as err:
                raise DataError(f"{where}: where.{key}: bad regular expression: {err}") from err
        check.where = {str(k): str(v) for k, v in where_spec.items()}
        if kind == "record":
            if spec["record"] not in RECORDS:
                raise DataError(f"{where}: record is one of {RECORDS}")
            check.record = spec["record"]
        else:
            path = spec["fetch"]
            if not isinstance(path, str) or not path.startswith("/api/"):
                raise DataError(f"{where}: fetch is a backend path starting with /api/")
            for name, _ in PLACEHOLDER.findall(path):
                if name not in setup:
                    raise DataError(f"{where}: {{{name}}} is not an order of setup")
            check.fetch = path
    if "turn" in spec:
        check.turns = _turn_numbers(spec["turn"], turns, where)
    if "before" in spec:
        if kind != "expect":
            raise DataError(f"{where}: before goes with expect")
        check.before = _regex(spec["before"], where)
    if "unless" in spec:
        if kind != "forbid":
            raise DataError(f"{where}: unless goes with forbid")
        check.unless = _regex(spec["unless"], where)
    return check


SETUP_KEYS = {"kind", "serial", "station", "date", "start", "phone", "address", "fault", "state"}


def _setup(raw: Any, where: str) -> dict[str, dict[str, Any]]:
    orders = _keys(raw, {"orders"}, {"orders"}, where)["orders"]
    if not isinstance(orders, dict) or not orders:
        raise DataError(f"{where}: orders is a mapping of name to work order")
    result = {}
    for name, spec in orders.items():
        spec = _keys(spec, SETUP_KEYS, {"kind", "station", "date", "start", "fault"}, where)
        if spec.get("state", "scheduled") not in ORDER_STATES:
            raise DataError(f"{where}: state is one of {sorted(ORDER_STATES)}")
        try:
            date.fromisoformat(str(spec["date"]))
        except ValueError as err:
            raise DataError(f"{where}: date {spec['date']!r} is not yyyy-mm-dd") from err
        result[str(name)] = {k: str(v) for k, v in spec.items()}
    return result


def parse_conversation(raw: Any, journey: str, where: str) -> Conversation:
    spec = _keys(
        raw,
        {"id", "journey", "note", "tags", "setup", "turns", "knows", "checks"},
        {"id", "turns", "checks"},
        where,
    )
    where = f"{where} ({spec['id']})"
    if spec.get("journey", journey) != journey:
        raise DataError(f"{where}: journey differs from the file's journey {journey!r}")
    setup = _setup(spec["setup"], f"{where}: setup") if "setup" in spec else {}
    raw_turns = spec["turns"]
    if not isinstance(raw_turns, list) or not raw_turns:
        raise DataError(f"{where}: turns is a non-empty list")
    turns: list[Turn] = []
    checks: list[Check] = []
    for n, item in enumerate(raw_turns, 1):
        at = f"{where}: turn {n}"
        if isinstance(item, str):
            turns.append(Turn(Reply(text=item)))
            continue
        item = _keys(
            item, {"text", "click", "when", "silent_ok", "expect", "forbid", "why"}, set(), at
        )
        reply = _reply({k: item[k] for k in ("text", "click") if k in item}, at)
        turns.append(
            Turn(
                reply,
                when=_regex(item["when"], at) if "when" in item else None,
                silent_ok=bool(item.get("silent_ok", False)),
            )
        )
        for kind in ("expect", "forbid"):
            if kind in item:
                checks.append(
                    Check(
                        kind=kind,
                        why=str(item.get("why") or f"turn {n}: {kind} {item[kind]}"),
                        severity="failed" if kind == "forbid" else "partial",
                        patterns=_regexes(item[kind], at),
                        turns={n},
                    )
                )
    knows = []
    raw_knows = spec.get("knows", [])
    if not isinstance(raw_knows, list):
        raise DataError(f"{where}: knows is a list")
    for n, item in enumerate(raw_knows, 1):
        at = f"{where}: knows {n}"
        item = _keys(item, {"asked", "text", "click", "times"}, {"asked"}, at)
        times = item.get("times", 1)
        if not isinstance(times, int) or times < 1:
            raise DataError(f"{at}: times is a positive whole number")
        knows.append(
            Known(
                _regex(item["asked"], at),
                _reply({k: item[k] for k in ("text", "click") if k in item}, at),
                times,
            )
        )
    raw_checks = spec["checks"]
    if not isinstance(raw_checks, list) or not raw_checks:
        raise DataError(f"{where}: checks is a non-empty list")
    checks = [
        _check(c, len(turns), setup, f"{where}: check {n}") for n, c in enumerate(raw_checks, 1)
    ] + checks
    if all(c.kind == "forbid" or c.count == "none" for c in checks):
        raise DataError(f"{where}: at least one check must say what the customer came for")
    tags = spec.get("tags", [])
    if not isinstance(tags, list):
        raise DataError(f"{where}: tags is a list")
    conversation = Conversation(
        id=str(spec["id"]),
        journey=journey,
        turns=turns,
        checks=checks,
        knows=knows,
        tags=[str(t) for t in tags],
        setup=setup,
        note=str(spec.get("note", "")),
    )
    for text in conversation.texts():
        for name, _ in PLACEHOLDER.findall(text):
            if name not in setup:
                raise DataError(f"{where}: {{{name}}} is not an order of setup")
    return conversation


def load(folder: Path) -> list[Conversation]:
    conversations: list[Conversation] = []
    for path in sorted(folder.glob("*.yml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = _keys(raw, {"journey", "conversations"}, {"journey", "conversations"}, path.name)
        if not isinstance(spec["conversations"], list):
            raise DataError(f"{path.name}: conversations is a list")
        for n, item in enumerate(spec["conversations"], 1):
            conversations.append(parse_conversation(item, spec["journey"], f"{path.name} #{n}"))
    seen = Counter(c.id for c in conversations)
    doubles = [i for i, n in seen.items() if n > 1]
    if doubles:
        raise DataError(f"conversation ids used twice: {doubles}")
    return conversations


# ------------------------------------------------------------------------------ talking to it


def _headers(token_variable: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    token = os.environ.get(token_variable)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # Setting up orders (closing one to rate it) is a staff step on the backend.
    staff = os.environ.get("BOT_STAFF_USER")
    if staff and token_variable == "BOT_API_TOKEN":
        headers["X-Staff-User"] = staff
    return headers


@dataclass
class Exchange:
    """One customer message and what the bot answered to it."""

    said: str  # what the customer typed, or the title of the button clicked
    sent: str  # the message sent (a button's payload for a click)
    script: int | None  # scripted turn number, None for an answer from `knows`
    messages: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    seconds: float = 0.0
    intent: str | None = None


def message_text(message: dict[str, Any]) -> str:
    """A bot message as the customer sees it: its text and its buttons' titles."""
    parts = [str(message.get("text") or "")]
    parts += [str(b.get("title", "")) for b in message.get("buttons") or []]
    if message.get("image"):
        parts.append("[image]")
    return "\n".join(p for p in parts if p)


class System:
    def __init__(
        self, session: aiohttp.ClientSession, rasa_url: str, backend_url: str, timeout: float
    ) -> None:
        self.session = session
        self.rasa_url = rasa_url.rstrip("/")
        self.backend_url = backend_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def reachable(self) -> None:
        for url in (f"{self.rasa_url}/webhooks/rest/", f"{self.backend_url}/api/health"):
            try:
                async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as r:
                    if r.status >= 500:
                        raise Unreachable(f"{url} answered {r.status}")
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                raise Unreachable(f"{url}: {err or type(err).__name__}") from err

    async def say(self, sender: str, message: str) -> list[dict[str, Any]]:
        body = json.dumps({"sender": sender, "message": message}, ensure_ascii=False)
        try:
            async with self.session.post(
                f"{self.rasa_url}/webhooks/rest/webhook",
                data=body.encode("utf-8"),
                headers=_headers("REST_CHANNEL_TOKEN"),
                timeout=self.timeout,
            ) as reply:
                payload = await reply.json(content_type=None)
                if reply.status != 200:
                    raise TurnError(f"HTTP {reply.status}: {str(payload)[:200]}")
        except aiohttp.ClientConnectionError as err:
            raise Unreachable(f"{self.rasa_url}: {err}") from err
        except asyncio.TimeoutError as err:
            raise TurnError(f"no answer within {self.timeout.total:.0f} s") from err
        except (aiohttp.ClientError, ValueError) as err:
            raise TurnError(f"bad answer: {err}") from err
        if not isinstance(payload, list):
            raise TurnError(f"the answer is not a list of messages: {str(payload)[:200]}")
        return [m for m in payload if isinstance(m, dict)]

    async def backend(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        try:
            async with self.session.request(
                method,
                f"{self.backend_url}{path}",
                params=params or None,
                data=None if body is None else json.dumps(body, ensure_ascii=False).encode(),
                headers=_headers("BOT_API_TOKEN"),
                timeout=self.timeout,
            ) as reply:
                payload = await reply.json(content_type=None)
                if reply.status >= 400:
                    raise BackendError(f"{method} {path}: HTTP {reply.status} {str(payload)[:300]}")
                return payload
        except aiohttp.ClientConnectionError as err:
            raise Unreachable(f"{self.backend_url}: {err}") from err
        except (asyncio.TimeoutError, aiohttp.ClientError, ValueError) as err:
            raise BackendError(f"{method} {path}: {err or type(err).__name__}") from err

    async def intents(self, sender: str) -> list[str | None]:
        """Intents of the customer's messages, from Rasa's tracker (best effort)."""
        token = os.environ.get("RASA_TOKEN")
        params = {"token": token} if token else None
        try:
            async with self.session.get(
                f"{self.rasa_url}/conversations/{quote(sender, safe='')}/tracker",
                params=params,
                timeout=self.timeout,
            ) as reply:
                if reply.status != 200:
                    return []
                state = await reply.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return []
        return [
            ((e.get("parse_data") or {}).get("intent") or {}).get("name")
            for e in state.get("events", [])
            if e.get("event") == "user"
        ]


class TurnError(Exception):
    """One turn went wrong (timeout, HTTP error); the conversation stops there."""


class BackendError(Exception):
    """A backend call for a fixture or a check failed."""


# ---------------------------------------------------------------------------------- replaying


@dataclass
class Result:
    conversation: Conversation
    sender: str
    exchanges: list[Exchange] = field(default_factory=list)
    outcome: str = "completed"
    reasons: list[str] = field(default_factory=list)
    error: str = ""
    records: dict[str, Any] = field(default_factory=dict)


def fill(text: str, orders: dict[str, dict[str, Any]]) -> str:
    def one(match: re.Match[str]) -> str:
        order_id = str(orders[match.group(1)]["id"])
        style = match.group(2)
        if style == "lower":
            return order_id.lower()
        if style == "spaced":  # WO20261120-0003 → WO 20261120 0003
            return f"{order_id[:2]} {order_id[2:10]} {order_id[11:]}"
        if style == "bare":  # without the letters
            return order_id[2:]
        if style == "nodash":
            return order_id.replace("-", "")
        return order_id

    return PLACEHOLDER.sub(one, text)


async def make_orders(
    system: System, conversation: Conversation, sender: str
) -> dict[str, dict[str, Any]]:
    orders = {}
    for name, spec in conversation.setup.items():
        body: dict[str, Any] = {
            "kind": spec["kind"],
            "fault": spec["fault"],
            "station_code": spec["station"],
            "slot_date": spec["date"],
            "slot_start": spec["start"],
            "conversation_id": f"setup-{sender}",
            "channel": "web",
        }
        for key, target in (("serial", "serial"), ("phone", "phone"), ("address", "address")):
            if key in spec:
                body[target] = spec[key]
        order = await system.backend("POST", "/api/workorders", body)
        for state in ORDER_STATES[spec.get("state", "scheduled")]:
            order = await system.backend(
                "POST",
                f"/api/workorders/{order['id']}/transitions",
                {"to": state, "note": "replay fixture", "actor": "engineer:replay"},
            )
        orders[name] = order
    return orders


def _last_text(exchanges: list[Exchange]) -> str:
    if not exchanges:
        return ""
    texts = [message_text(m) for m in exchanges[-1].messages]
    return "\n".join(texts)


ASKING = re.compile(r"[？?：:]|请.{0,4}(告诉|提供|选|输入|发|留|描述|确认|把|说)|吗|呢")


def _last_question(exchanges: list[Exchange]) -> str:
    """The text of the bot's last message (not its buttons) if it asks something.

    A customer answers a question, a request (请…) or a choice (a colon, buttons); a statement
    such as a booking confirmation is not answered with the next fact they know.
    """
    messages = [m for m in (exchanges[-1].messages if exchanges else []) if m.get("text")]
    if not messages:
        return ""
    last = messages[-1]
    text = str(last["text"])
    return text if last.get("buttons") or ASKING.search(text) else ""


def _press(reply: Reply, exchanges: list[Exchange]) -> tuple[str, str, str]:
    """(what the customer did, the message to send, a note)."""
    if reply.text is not None:
        return reply.text, reply.text, ""
    buttons = [
        b for m in (exchanges[-1].messages if exchanges else []) for b in m.get("buttons") or []
    ]
    for wanted in reply.click:
        for button in buttons:
            if wanted in str(button.get("title", "")):
                return f"[{button.get('title')}]", str(button.get("payload") or button["title"]), ""
    typed = reply.click[0]
    return typed, typed, f"no button {reply.click[0]!r} offered; typed it"


async def replay(system: System, conversation: Conversation, run: str) -> Result:
    sender = f"cust-{run}-{conversation.id}"
    result = Result(conversation, sender)
    try:
        orders = await make_orders(system, conversation, sender)
    except BackendError as err:
        result.error = f"setup failed: {err}"
        await evaluate(system, result, {})
        return result
    result.records["setup"] = {n: o["id"] for n, o in orders.items()}
    used: Counter[int] = Counter()

    async def send(reply: Reply, script: int | None) -> None:
        said, message, note = _press(reply, result.exchanges)
        said, message = fill(said, orders), fill(message, orders)
        exchange = Exchange(said=said, sent=message, script=script, note=note)
        started = time.monotonic()
        try:
            exchange.messages = await system.say(sender, message)
        finally:
            exchange.seconds = time.monotonic() - started
            result.exchanges.append(exchange)

    async def answer_questions(until: re.Pattern[str] | None) -> bool:
        """Answer what the bot asks from `knows`; True once `until` shows (or nothing to say)."""
        extra = sum(1 for e in result.exchanges if e.script is None)
        while extra < MAX_EXTRA_TURNS:
            if until is not None and until.search(_last_text(result.exchanges)):
                return True
            question = _last_question(result.exchanges)
            for n, known in enumerate(conversation.knows):
                if used[n] < known.times and known.asked.search(question):
                    used[n] += 1
                    await send(known.reply, None)
                    extra += 1
                    break
            else:
                return until is None
        return until is None or bool(until.search(_last_text(result.exchanges)))

    try:
        for n, turn in enumerate(conversation.turns, 1):
            if turn.when is not None and not await answer_questions(turn.when):
                note = f"cue /{turn.when.pattern}/ never came; said it anyway"
                await send(turn.reply, n)
                result.exchanges[-1].note = note
                continue
            await send(turn.reply, n)
        await answer_questions(None)
    except TurnError as err:
        result.error = str(err)
    intents = await system.intents(sender)
    if len(intents) == len(result.exchanges):
        for exchange, intent in zip(result.exchanges, intents, strict=True):
            exchange.intent = intent
    await evaluate(system, result, orders)
    return result


# --------------------------------------------------------------------------------- evaluating


def _field(record: dict[str, Any], dotted: str) -> str:
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _matches(record: dict[str, Any], where: dict[str, str]) -> bool:
    return all(re.fullmatch(p, _field(record, k), re.S) for k, p in where.items())


def _describe(records: list[dict[str, Any]], where: dict[str, str]) -> str:
    if not records:
        return "none found"
    keys = list(where) or ["id", "status"]
    shown = ["{" + ", ".join(f"{k}={_field(r, k)}" for k in keys) + "}" for r in records[:3]]
    return "found " + "; ".join(shown)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_checks(result: Result) -> list[tuple[Check, str]]:
    """The message checks that failed, with what was seen."""
    failures = []
    for check in result.conversation.checks:
        if check.kind not in ("expect", "expect_any", "forbid"):
            continue
        messages = [
            message_text(m)
            for e in result.exchanges
            if check.turns is None or e.script in check.turns
            for m in e.messages
        ]
        if check.kind == "forbid":
            for pattern in check.patterns:
                hit = next(
                    (
                        m
                        for m in messages
                        if pattern.search(m) and not (check.unless and check.unless.search(m))
                    ),
                    None,
                )
                if hit is not None:
                    failures.append((check, f"said /{pattern.pattern}/: “{_short(hit)}”"))
                    break
        elif check.kind == "expect_any":
            if not any(p.search(m) for p in check.patterns for m in messages):
                failures.append((check, "none of " + " | ".join(p.pattern for p in check.patterns)))
        else:
            for pattern in check.patterns:
                at = next((i for i, m in enumerate(messages) if pattern.search(m)), None)
                if at is None:
                    failures.append((check, f"never said /{pattern.pattern}/"))
                    break
                if check.before is not None:
                    early = next(
                        (i for i, m in enumerate(messages) if check.before.search(m)), None
                    )
                    if early is not None and early < at:
                        failures.append(
                            (
                                check,
                                f"/{check.before.pattern}/ came first: “{_short(messages[early])}”",
                            )
                        )
                        break
    return failures


async def evaluate(system: System, result: Result, orders: dict[str, dict[str, Any]]) -> None:
    conversation = result.conversation
    failures = message_checks(result) if not result.error.startswith("setup") else []
    for check in conversation.checks:
        if check.kind not in ("record", "fetch"):
            continue
        try:
            if check.kind == "fetch":
                if orders.keys() < conversation.setup.keys():
                    raise BackendError("no fixture")
                records = [await system.backend("GET", fill(check.fetch, orders))]
            else:
                records = await system.backend(
                    "GET", f"/api/{check.record}", conversation_id=result.sender
                )
                if check.record == "workorders" and "status" not in check.where:
                    records = [r for r in records if r.get("status") != "cancelled"]
        except BackendError as err:
            failures.append((check, f"backend: {err}"))
            continue
        result.records[check.fetch or check.record] = records
        hits = [r for r in records if _matches(r, check.where)]
        if check.count == "none" and hits:
            failures.append((check, _describe(hits, check.where)))
        elif check.count == "any" and not hits:
            failures.append((check, _describe(records, check.where)))
    for exchange in result.exchanges:
        turn = conversation.turns[exchange.script - 1] if exchange.script else None
        if turn is not None and not exchange.messages and not turn.silent_ok:
            failures.append(
                (
                    Check(kind="reply", why="no reply", severity="partial"),
                    f"turn {exchange.script} “{_short(exchange.said, 30)}” got silence",
                )
            )
    if result.error:
        failures.append((Check(kind="error", why="error", severity="partial"), result.error))
    for check, seen in failures:
        result.reasons.append(f"[{check.severity}] {check.why}: {seen}")
    severities = {check.severity for check, _ in failures}
    result.outcome = (
        "failed" if "failed" in severities else "partial" if severities else "completed"
    )


# ---------------------------------------------------------------------------------- reporting


def table(results: list[Result]) -> str:
    rows: dict[str, Counter[str]] = {}
    for result in results:
        rows.setdefault(result.conversation.journey, Counter())[result.outcome] += 1
    tags: dict[str, Counter[str]] = {}
    for result in results:
        for tag in result.conversation.tags:
            tags.setdefault(tag, Counter())[result.outcome] += 1
    head = (
        f"{'journey':<16} {'convs':>5} {'completed':>9} {'partial':>7} {'failed':>6} {'done %':>7}"
    )
    lines = [head, "-" * len(head)]

    def row(name: str, counts: Counter[str]) -> str:
        total = sum(counts.values())
        rate = 100 * counts["completed"] / total if total else 0.0
        return (
            f"{name:<16} {total:>5} {counts['completed']:>9} {counts['partial']:>7} "
            f"{counts['failed']:>6} {rate:>6.0f}%"
        )

    for name in sorted(rows):
        lines.append(row(name, rows[name]))
    lines.append("-" * len(head))
    lines.append(row("overall", sum(rows.values(), Counter())))
    if tags:
        lines.append("")
        lines.extend(row(f"tag: {name}", tags[name]) for name in sorted(tags))
    return "\n".join(lines)


def reasons(results: list[Result]) -> str:
    lines = []
    for result in results:
        if result.outcome == "completed":
            continue
        first = result.exchanges[0].said if result.exchanges else ""
        lines.append(f"{result.outcome.upper():<8} {result.conversation.id} ({_short(first, 40)})")
        lines.extend(f"         {reason}" for reason in result.reasons)
    return "\n".join(lines)


def as_json(results: list[Result], started: float) -> dict[str, Any]:
    return {
        "seconds": round(time.monotonic() - started, 1),
        "summary": {o: sum(1 for r in results if r.outcome == o) for o in OUTCOMES},
        "conversations": [
            {
                "id": r.conversation.id,
                "journey": r.conversation.journey,
                "tags": r.conversation.tags,
                "sender": r.sender,
                "outcome": r.outcome,
                "reasons": r.reasons,
                "error": r.error,
                "records": r.records,
                "transcript": [
                    {
                        "customer": e.said,
                        "sent": e.sent,
                        "scripted_turn": e.script,
                        "intent": e.intent,
                        "seconds": round(e.seconds, 2),
                        "note": e.note,
                        "bot": [message_text(m) for m in e.messages],
                    }
                    for e in r.exchanges
                ],
            }
            for r in results
        ],
    }


def print_transcript(result: Result) -> None:
    print(f"--- {result.conversation.id} [{result.outcome}]")
    for e in result.exchanges:
        mark = f"#{e.script}" if e.script else "(asked)"
        print(f"  customer {mark}: {e.said}   <{e.intent}> {e.note}".rstrip())
        for m in e.messages:
            print("     bot: " + message_text(m).replace("\n", "\n          "))


# ----------------------------------------------------------------------------- main program


def training_overlap(conversations: list[Conversation]) -> list[tuple[str, str]]:
    """Customer sentences found word for word in the training data or the stories."""
    corpus = []
    for folder in (ROOT / "data", ROOT / "tests" / "stories"):
        for path in folder.rglob("*.yml"):
            text = path.read_text(encoding="utf-8")
            # [value](entity) and [value]{"entity": ...} annotations → value
            corpus.append(re.sub(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})", r"\1", text))
    joined = "\n".join(corpus)
    return [
        (c.id, text)
        for c in conversations
        for text in c.texts()
        # IDs, phones and two-word answers are shared by any data set; sentences are not.
        if len(re.findall(r"[\u4e00-\u9fff]", text)) >= 6 and text in joined
    ]


async def run_all(
    conversations: list[Conversation], rasa_url: str, backend_url: str, timeout: float, show: bool
) -> list[Result]:
    run = time.strftime("%H%M%S") + f"{os.getpid() % 1000:03d}"
    async with aiohttp.ClientSession() as session:
        system = System(session, rasa_url, backend_url, timeout)
        await system.reachable()
        results = []
        for n, conversation in enumerate(conversations, 1):
            result = await replay(system, conversation, run)
            results.append(result)
            print(
                f"[{n:>3}/{len(conversations)}] {conversation.journey:<13} "
                f"{conversation.id:<28} {result.outcome}",
                file=sys.stderr,
                flush=True,
            )
            if show and result.outcome != "completed":
                print_transcript(result)
        return results


@contextlib.contextmanager
def stack_if(start: bool) -> Iterator[tuple[str, str] | None]:
    if not start:
        yield None
        return
    from tests.support.database import API_TOKEN, REST_TOKEN, STAFF_USER
    from tests.support.desk import create_account
    from tests.support.stack import Stack

    with tempfile.TemporaryDirectory(prefix="customers-") as workdir:
        print("starting backend, action server and Rasa ...", file=sys.stderr, flush=True)
        stack = Stack(Path(workdir)).start()
        create_account(stack, STAFF_USER, "回放", "supervisor")
        os.environ.update(
            BOT_API_TOKEN=API_TOKEN, REST_CHANNEL_TOKEN=REST_TOKEN, BOT_STAFF_USER=STAFF_USER
        )
        try:
            yield stack.rasa_url, stack.backend_url
        finally:
            stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rasa-url", default="http://127.0.0.1:5005")
    parser.add_argument("--backend-url", default="http://127.0.0.1:8000")
    parser.add_argument("--only", action="append", help="a journey (repeat for more)")
    parser.add_argument("--id", action="append", help="one conversation id (repeat for more)")
    parser.add_argument("--start-stack", action="store_true", help="start and stop the system")
    parser.add_argument("--json", type=Path, help="write results and transcripts here")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per turn")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--transcripts", action="store_true", help="print the transcript of each miss"
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the data and count it; no system needed"
    )
    args = parser.parse_args(argv)
    try:
        conversations = load(args.data)
    except (DataError, yaml.YAMLError) as err:
        print(f"invalid conversation data: {err}", file=sys.stderr)
        return 1
    if args.only:
        conversations = [c for c in conversations if c.journey in args.only]
    if args.id:
        conversations = [c for c in conversations if c.id in args.id]
    if args.check:
        for journey, n in sorted(Counter(c.journey for c in conversations).items()):
            print(f"{journey:<16} {n:>4}")
        print(f"{'total':<16} {len(conversations):>4}")
        overlap = training_overlap(conversations)
        for conversation_id, text in overlap:
            print(f"in the training data or stories: {conversation_id}: {text!r}")
        return 1 if overlap else 0
    if not conversations:
        print("no conversation selected", file=sys.stderr)
        return 1
    started = time.monotonic()
    try:
        with stack_if(args.start_stack) as urls:
            rasa_url, backend_url = urls or (args.rasa_url, args.backend_url)
            results = asyncio.run(
                run_all(conversations, rasa_url, backend_url, args.timeout, args.transcripts)
            )
    except Unreachable as err:
        print(f"the system could not be reached: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # the stack did not start
        print(f"the system could not be started: {err}", file=sys.stderr)
        return 2
    print(table(results))
    misses = reasons(results)
    if misses:
        print("\nNot completed:")
        print(misses)
    print(f"\n{len(results)} conversations in {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(as_json(results, started), ensure_ascii=False, indent=1), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
