"""Locator: authorised repair stations and consumables dealers in the customer's city."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cards import station_card as card_of
from actions.common import BackendAction, BackendFormValidation, client, joined, label
from actions.conversation import entity, last_intent_among, latest_text
from bot.contracts.spelling import find_city, resolve_city
from bot.contracts.stations import Station
from bot.contracts.text import normalize_city
from bot.normalize import normalize_text

MAX_CARDS = 3
# Beyond this the "nearest" station is in another city: say so instead of calling it nearby.
NEARBY_KM = 100
_LAT_LON = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def parse_location(value: str | None) -> tuple[float, float] | None:
    """The "lat,lon" a channel sends; None for anything else or a point off the globe."""
    match = _LAT_LON.match(value or "")
    if not match:
        return None
    lat, lon = float(match[1]), float(match[2])
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None


def kind_of(tracker: Tracker) -> str:
    """Dealer or service station: whichever the customer asked for last."""
    asked = last_intent_among(tracker, ("find_dealer", "find_service_center"))
    return "dealer" if asked == "find_dealer" else "service"


def station_card(dispatcher: CollectingDispatcher, domain: DomainDict, station: Station) -> None:
    near = station.distance_km is not None
    services = joined(domain, (label(domain, f"service_{s}") for s in station.services))
    dispatcher.utter_message(
        response="utter_station_card_distance" if near else "utter_station_card",
        **({"distance": station.distance_km} if near else {}),
        name=station.name,
        address=station.address,
        phone=station.phone,
        hours=station.hours,
        services=services,
        json_message=card_of(domain, station, services),
    )


async def city_from_words(tracker: Tracker) -> dict[str, Any]:
    """The city typed at the city question that the NLU did not see: 沪, 深证, 我在申城."""
    said = latest_text(tracker)
    if (
        tracker.get_slot("requested_slot") != "city"
        or entity(tracker, "city")
        or not said
        or said.startswith("/")
    ):
        return {}
    found = find_city(normalize_text(said), [c.city for c in await client().cities()])
    return {"city": found} if found else {}


class ValidateLocatorForm(BackendFormValidation):
    retry = "/find_service_center"

    def name(self) -> str:
        return "validate_locator_form"

    async def extract_city(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await city_from_words(tracker)

    async def validate_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        city = normalize_city(str(value or ""))
        # 沪, 深证: the catalogue's name of the city the customer means, when there is one.
        known = [c.city for c in await client().cities()]
        return {"city": resolve_city(city, known) or city or None}


class ActionFindStations(BackendAction):
    retry = "/find_service_center"

    def name(self) -> str:
        return "action_find_stations"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        city = tracker.get_slot("city")
        if not city:
            return []
        kind = kind_of(tracker)
        words = " ".join(str(tracker.get_slot(s) or "") for s in ("product", "model")).strip()
        category = (await client().resolve(words)).category if words else None
        found = await client().stations(
            city=str(city), kind=kind, category=category, limit=MAX_CARDS
        )
        if not found and category:
            found = await client().stations(city=str(city), kind=kind, limit=MAX_CARDS)
        kind_label = label(domain, f"kind_{kind}")
        if not found:
            cities = [
                c.city
                for c in await client().cities()
                if (c.dealers if kind == "dealer" else c.service_stations)
            ]
            dispatcher.utter_message(
                response="utter_no_locations_in_city",
                city=city,
                kind=kind_label,
                cities=joined(domain, cities),
            )
            return []
        dispatcher.utter_message(response="utter_stations_found", city=city, kind=kind_label)
        for station in found:
            station_card(dispatcher, domain, station)
        return []


class ActionStationsNearby(BackendAction):
    """The stations nearest to a location the customer shared (Telegram's location message)."""

    retry = "/find_service_center"

    def name(self) -> str:
        return "action_stations_nearby"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # The latest message's location, not the slot: "发个定位给你" after an earlier location
        # announces a new one, and answering for the old place would mislead.
        near = parse_location(entity(tracker, "location"))
        if near is None:
            dispatcher.utter_message(response="utter_ask_location")
            return []
        kind = kind_of(tracker)
        found = await client().stations(near=near, kind=kind, limit=MAX_CARDS)
        if not found:
            # No station of this kind at all: the city question lists where there are some.
            dispatcher.utter_message(response="utter_ask_location")
            return []
        kind_label = label(domain, f"kind_{kind}")
        if (found[0].distance_km or 0.0) > NEARBY_KM:
            dispatcher.utter_message(
                response="utter_stations_far", kind=kind_label, radius=NEARBY_KM
            )
        else:
            dispatcher.utter_message(response="utter_stations_nearby", kind=kind_label)
        for station in found:
            station_card(dispatcher, domain, station)
        return []
