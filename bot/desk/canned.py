"""Canned replies: the sentences in `canned.yml`, with the conversation's values filled in
for the agent to edit and send."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import yaml
from aiohttp import web
from pydantic import BaseModel

from bot.api import CLOCK, DB, Routes
from bot.desk.accounts import current
from bot.desk.queue import handoff_id_of, load_item, require_visible

routes = Routes("desk", audience="desk")
CANNED = Path(__file__).with_name("canned.yml")
CANNED_KEY = web.AppKey("desk_canned", list[dict[str, str]])

_VARIABLE = re.compile(r"\{(\w+)\}")


class Canned(BaseModel):
    title: str
    text: str


def load_canned(path: Path = CANNED) -> list[dict[str, str]]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [{"title": str(e["title"]), "text": str(e["text"])} for e in entries]


async def loaded(app: web.Application) -> AsyncIterator[None]:
    """Read the canned replies once, when the app starts."""
    app[CANNED_KEY] = load_canned()
    yield


def fill(template: str, values: dict[str, str | None]) -> str:
    """Fill {customer_name}, {work_order_id}, …; an unknown value stays visible as {name} so
    the agent sees what to complete before sending."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1)) or m.group(0), template)


@routes.get(
    "/desk/api/handoffs/{id}/canned",
    summary="Canned replies with this conversation's values filled in",
    response=list[Canned],
    errors=(400, 401, 403, 404),
)
async def list_canned_replies(request: web.Request, _: None) -> list[Canned]:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    async with request.config_dict[DB].read() as conn:
        item = await load_item(conn, clock, handoff_id)
    require_visible(staff, item)
    p = item.package
    values = {
        "customer_name": p.get("customer_name"),
        "work_order_id": p.get("work_order_id"),
        "serial": p.get("serial"),
        "agent_name": staff.display_name,
    }
    return [Canned(title=c["title"], text=fill(c["text"], values)) for c in request.app[CANNED_KEY]]
