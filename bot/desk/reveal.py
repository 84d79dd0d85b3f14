"""The one way the desk shows a customer's full phone number: an explicit, audited reveal.

Everywhere else (the queue, a conversation, its package, the live feed) the desk shows phones
and addresses masked, to every role, as service desks do: most conversations need no number,
and a masked one is enough to recognise it. A staff member who must call the customer back
asks for the full number of that one handoff; the answer is the number and an audit line
(who, when, which handoff), never the number in the log.

Who may: a supervisor, for any handoff; an agent, for a conversation they hold, or held last
once it is closed (a callback after closing). Not for a waiting conversation (claim it first)
nor a colleague's: the same rule as reading it, minus the queue.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import select

from bot import tables
from bot.api import CLOCK, DB, ApiError, Routes
from bot.desk.accounts import audit, current
from bot.desk.queue import handoff_id_of, load_item, require_visible

routes = Routes("desk", audience="desk")


class Revealed(BaseModel):
    """The full numbers of one handoff, for a callback."""

    handoff_id: str
    callback_phone: str | None
    contact: str | None


@routes.post(
    "/desk/api/handoffs/{id}/reveal",
    summary="The customer's full phone number for a callback (audited)",
    response=Revealed,
    errors=(400, 401, 403, 404, 409),
)
async def reveal_phone(request: web.Request, _: None) -> Revealed:
    staff, clock, handoff_id = current(request), request.config_dict[CLOCK], handoff_id_of(request)
    h, a = tables.handoffs, tables.desk_assignments
    async with request.config_dict[DB].write() as conn:
        item = await load_item(conn, clock, handoff_id)
        require_visible(staff, item)
        if item.status == "waiting" and not staff.supervisor:
            raise ApiError(409, "not_holding", "claim the conversation first")
        row = (
            await conn.execute(
                select(h.c.package, a.c.callback_phone)
                .select_from(h.outerjoin(a, a.c.handoff_id == h.c.id))
                .where(h.c.id == handoff_id)
            )
        ).one()
        revealed = Revealed(
            handoff_id=handoff_id,
            callback_phone=row.callback_phone,
            contact=(row.package or {}).get("contact"),
        )
        shown = [name for name in ("callback_phone", "contact") if getattr(revealed, name)]
        await audit(conn, clock.now(), staff.id, "phone_revealed", handoff_id, {"fields": shown})
    return revealed
