"""Station contracts: repair stations and dealers, cities, and free repair slots."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, validator

from bot.contracts.base import Query

Service = Literal[
    "drop_off",
    "on_site",
    "remote",
    "battery_replacement",
    "data_recovery",
    "consumables_sales",
    "recycling",
]


class Station(BaseModel):
    code: str
    kind: str
    name: str
    city: str
    district: str
    address: str
    phone: str
    hours: str
    open_weekdays: list[int]
    services: list[str]
    categories: list[str]
    daily_capacity: int
    lat: float
    lon: float
    distance_km: float | None = None


class City(BaseModel):
    city: str
    service_stations: int
    dealers: int


class Slot(BaseModel):
    date: date
    start: str
    end: str
    capacity: int
    booked: int
    free: int


class StationQuery(Query):
    city: str | None = Field(None, max_length=40)
    kind: Literal["service", "dealer"] | None = None
    service: Service | None = None
    category: str | None = None
    near: str | None = Field(
        None,
        regex=r"^-?[0-9]{1,3}(\.[0-9]{1,12})?,-?[0-9]{1,3}(\.[0-9]{1,12})?$",
        description="lat,lon in degrees (latitude -90..90, longitude -180..180)",
    )
    limit: int = Field(20, ge=1, le=100)

    @validator("near")
    def _on_the_globe(cls, near: str | None) -> str | None:
        if near is not None:
            lat, lon = (float(x) for x in near.split(","))
            if abs(lat) > 90 or abs(lon) > 180:
                raise ValueError("latitude must be within -90..90 and longitude within -180..180")
        return near


class SlotQuery(Query):
    start: date | None = Field(None, alias="from")
    days: int = Field(7, ge=1, le=31)
