"""Cards: the structured form of a result, sent beside its text as a `custom` payload.

An action says its result in words (the domain response, unchanged on every channel) and
attaches the same result as data (`dispatcher.utter_message(..., json_message=card)`). The web
chat draws a card from the data (`bot/static/chat/chat-cards.js`); Telegram and REST show the
text only (`connectors/telegram_output.py`, `connectors/rest.py`). A card is a dict with
`"card"` naming its kind ("verdict", "booking", "station") and `"labels"`, the words the page
puts on it, which are domain labels like every customer-facing word (`utter_label_card_*`).
Dates are both ISO (for the calendar file) and said as the customer reads them (`day_text`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from rasa_sdk.types import DomainDict

from actions.common import clock, label
from actions.days import day_text
from bot.contracts.cards import CARD
from bot.contracts.stations import Station
from bot.contracts.warranty import CoverageOut, Verdict
from bot.contracts.workorders import WorkOrder

# Amap's URI API opens the app on a phone and the web map elsewhere, no key needed.
MAP_SEARCH = "https://uri.amap.com/search?keyword={keyword}"
MAP_MARKER = "https://uri.amap.com/marker?position={lon},{lat}&name={name}"


def labels(domain: DomainDict, names: Iterable[str], **values: Any) -> dict[str, str]:
    return {name: label(domain, f"card_{name}", **values) for name in names}


def map_search(address: str) -> str:
    return MAP_SEARCH.format(keyword=quote(address))


def verdict_card(
    domain: DomainDict,
    verdict: Verdict,
    summary: str,
    main_parts: CoverageOut | None,
    basis: list[str],
) -> dict[str, Any]:
    """The 三包 verdict: what the customer may have and until when; the basis folded.

    `main_parts` is the main parts' coverage when the verdict is said by group (no part
    named), `basis` the sentences the verdict rests on ("依据：…") as the text says them.
    """
    return {
        CARD: "verdict",
        "model_name": verdict.model_name,
        "serial": verdict.serial,
        "policy_title": verdict.policy_title,
        "summary": summary,
        "days_since_invoice": verdict.days_since_invoice,
        "remedies": [
            {
                "remedy": o.remedy,
                "text": label(
                    domain, f"remedy_{o.remedy}", until=day_text(domain, o.until) if o.until else ""
                ),
                "until": o.until.isoformat() if o.until else None,
            }
            for o in verdict.options
        ],
        "main_parts_until": day_text(domain, main_parts.ends_on) if main_parts else None,
        "basis": basis,
        "labels": labels(domain, ("verdict_title", "remedies", "basis", "serial")),
    }


def booking_card(domain: DomainDict, order: WorkOrder, *, kind: str, slot: str) -> dict[str, Any]:
    """The booking confirmation: the id to copy, the station to call or find, the calendar."""
    starts = ends = None
    if order.slot_date and order.slot_start:
        starts = clock().local(order.slot_date, order.slot_start).isoformat()
        ends = clock().local(order.slot_date, order.slot_end or order.slot_start).isoformat()
    station = order.station
    return {
        CARD: "booking",
        "work_order_id": order.id,
        "kind": kind,
        "slot": slot,
        "starts_at": starts,
        "ends_at": ends,
        "station": {
            "name": station.name,
            "address": station.address,
            "phone": station.phone,
            "map": map_search(station.address),
        },
        # The on-site address is the customer's own; the calendar entry names where to be.
        "location": order.address or f"{station.name} {station.address}",
        "labels": {
            **labels(
                domain,
                ("booking_title", "work_order", "copy", "copied", "slot", "station", "map"),
            ),
            **labels(domain, ("call",), phone=station.phone),
            **labels(domain, ("calendar",)),
            **labels(domain, ("event",), kind=kind, work_order_id=order.id),
        },
    }


def station_card(domain: DomainDict, station: Station, services: str) -> dict[str, Any]:
    """One station of the locator, with a call link and its place on the map."""
    distance = (
        label(domain, "card_distance", distance=station.distance_km)
        if station.distance_km is not None
        else None
    )
    return {
        CARD: "station",
        "code": station.code,
        "name": station.name,
        "address": station.address,
        "phone": station.phone,
        "hours": station.hours,
        "services": services,
        "distance": distance,
        "map": MAP_MARKER.format(lon=station.lon, lat=station.lat, name=quote(station.name)),
        "labels": {
            **labels(domain, ("hours", "services", "map")),
            **labels(domain, ("call",), phone=station.phone),
        },
    }
