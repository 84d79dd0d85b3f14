"""Locator: authorised repair stations and consumables dealers in the customer's city."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import (
    BackendAction,
    BackendFormValidation,
    client,
    joined,
    label,
    last_intent_among,
)
from bot.stations import Station, normalize_city

MAX_CARDS = 3


def kind_of(tracker: Tracker) -> str:
    """Dealer or service station: whichever the customer asked for last."""
    asked = last_intent_among(tracker, ("find_dealer", "find_service_center"))
    return "dealer" if asked == "find_dealer" else "service"


def station_card(dispatcher: CollectingDispatcher, domain: DomainDict, station: Station) -> None:
    dispatcher.utter_message(
        response="utter_station_card",
        name=station.name,
        address=station.address,
        phone=station.phone,
        hours=station.hours,
        services=joined(domain, (label(domain, f"service_{s}") for s in station.services)),
    )


class ValidateLocatorForm(BackendFormValidation):
    retry = "/find_service_center"

    def name(self) -> str:
        return "validate_locator_form"

    async def validate_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        city = normalize_city(str(value or ""))
        return {"city": city or None}


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
