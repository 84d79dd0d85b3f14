"""Station contracts: repair stations and dealers, cities, and free repair slots."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

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
    near: str | None = Field(None, regex=r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?$", description="lat,lon")
    limit: int = Field(20, ge=1, le=100)


class SlotQuery(Query):
    start: date | None = Field(None, alias="from")
    days: int = Field(7, ge=1, le=31)
