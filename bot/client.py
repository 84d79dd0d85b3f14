"""Typed async client of the service backend, used by the custom actions and the channels.

Every call has a timeout; failures arrive as a small hierarchy of exceptions so that callers
can tell "the customer typed something wrong" (Invalid, NotFound, Conflict) from "we are
down" (Unavailable) and answer each in its own way.

Over 350 lines on purpose: one method per API operation, flat, in the order of the API.
"""

from __future__ import annotations

import asyncio
import os
from datetime import date
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ValidationError, parse_obj_as

from bot.contracts.authenticity import Check, Report, ReportIn, VerifyIn
from bot.contracts.catalogue import Category, FirmwareRelease, ModelDetail, ModelSummary, Resolution
from bot.contracts.complaints import Complaint, ComplaintIn
from bot.contracts.followups import CustomerOutcome, Followup, FollowupAnswerIn
from bot.contracts.handoffs import CallbackIn, Handoff, HandoffIn, Package
from bot.contracts.knowledge import Case, Hit, SearchIn
from bot.contracts.stations import City, Slot, Station
from bot.contracts.warranty import Device, Extension, ExtensionIn, FaultIn, Plan, Verdict, VerdictIn
from bot.contracts.workorders import (
    CancelIn,
    CreateIn,
    PhoneCheck,
    PhoneCheckIn,
    PhoneLookupIn,
    RatingIn,
    RescheduleIn,
    WorkOrder,
)
from bot.sanbao import Policy

T = TypeVar("T")


class ServiceError(Exception):
    """The backend refused or could not answer; `code` is the backend's stable error code."""

    def __init__(
        self, status: int, code: str, message: str, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail or {}


class Invalid(ServiceError):
    """400/422: a malformed id, a wrong value."""


class NotFound(ServiceError):
    """404: no such serial, work order, model, case."""


class Conflict(ServiceError):
    """409: the request is well-formed but the state forbids it (slot full, too late)."""


class RateLimited(ServiceError):
    """429: too many queries; `retry_after` seconds."""

    @property
    def retry_after(self) -> int:
        return int(self.detail.get("retry_after", 60))


class Unavailable(ServiceError):
    """The backend is down, timed out or failed (5xx)."""


def _error_class(status: int) -> type[ServiceError]:
    if status in (400, 413, 422):
        return Invalid
    if status == 404:
        return NotFound
    if status == 409:
        return Conflict
    if status == 429:
        return RateLimited
    return Unavailable if status >= 500 else ServiceError


class ServiceClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        staff: str | None = None,
        timeout: float = 5.0,
        retries: int = 1,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # The internal API's bearer token (BOT_API_TOKEN); every route but health needs it.
        # An operator tool acting for a staff member names them for the staff-only routes.
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        if staff:
            self._auth["X-Staff-User"] = staff
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.retries = retries
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls) -> ServiceClient:
        return cls(
            os.environ.get("BOT_API_URL", "http://127.0.0.1:8000"),
            token=os.environ.get("BOT_API_TOKEN") or None,
            timeout=float(os.environ.get("BOT_API_TIMEOUT", "5")),
        )

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: BaseModel | None = None,
        key: str | None = None,
    ) -> Any:
        headers = dict(self._auth)
        if body is not None:
            headers["Content-Type"] = "application/json"
        if key:
            headers["Idempotency-Key"] = key
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        data = body.json(exclude_none=True) if body is not None else None
        # A retry is safe for reads and for writes that carry an idempotency key.
        attempts = 1 + (self.retries if method == "GET" or key else 0)
        for attempt in range(attempts):
            try:
                async with self._http().request(
                    method, self.base_url + path, params=query, data=data, headers=headers
                ) as resp:
                    payload = await resp.json(content_type=None)
                    if resp.status < 400:
                        return payload
                    error = (payload or {}).get("error", {}) if isinstance(payload, dict) else {}
                    raise _error_class(resp.status)(
                        resp.status,
                        error.get("code", "http_error"),
                        error.get("message", resp.reason or ""),
                        error,
                    )
            except Unavailable:
                if attempt + 1 == attempts:
                    raise
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                if attempt + 1 == attempts:
                    raise Unavailable(503, "unreachable", f"{type(exc).__name__}: {exc}") from exc
            await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _get(self, result: type[T], path: str, /, **params: Any) -> T:
        return parse_obj_as(result, await self._call("GET", path, params=params))

    async def _post(
        self,
        model: type[T],
        path: str,
        body: BaseModel,
        key: str | None = None,
        method: str = "POST",
    ) -> T:
        return parse_obj_as(model, await self._call(method, path, body=body, key=key))

    # --- health and catalogue --------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/api/health")
        return result

    async def categories(self) -> list[Category]:
        return await self._get(list[Category], "/api/catalogue/categories")

    async def models(self, category: str | None = None, q: str | None = None) -> list[ModelSummary]:
        return await self._get(list[ModelSummary], "/api/catalogue/models", category=category, q=q)

    async def model(self, code: str) -> ModelDetail:
        return await self._get(ModelDetail, f"/api/catalogue/models/{_segment(code)}")

    async def firmware(self, code: str, kind: str | None = None) -> list[FirmwareRelease]:
        return await self._get(
            list[FirmwareRelease], f"/api/catalogue/models/{_segment(code)}/firmware", kind=kind
        )

    async def resolve(self, text: str) -> Resolution:
        return await self._get(Resolution, "/api/catalogue/resolve", text=text)

    # --- warranty --------------------------------------------------------------------

    async def device(self, serial: str) -> Device:
        return await self._get(Device, f"/api/warranty/devices/{_segment(serial)}")

    async def verdict(
        self,
        serial: str,
        *,
        part: str | None = None,
        performance_fault: bool = True,
        exclusions: tuple[str, ...] = (),
        on_date: date | None = None,
    ) -> Verdict:
        body = _body(
            VerdictIn,
            serial=serial,
            on_date=on_date,
            fault=FaultIn(
                part=part, performance_fault=performance_fault, exclusions=list(exclusions)
            ),
        )
        return await self._post(Verdict, "/api/warranty/verdict", body)

    async def policies(self, category: str | None = None) -> list[Policy]:
        return await self._get(list[Policy], "/api/warranty/policies", category=category)

    async def plans(self, *, category: str | None = None, serial: str | None = None) -> list[Plan]:
        return await self._get(list[Plan], "/api/warranty/plans", category=category, serial=serial)

    async def buy_extension(
        self, serial: str, plan_code: str, *, key: str | None = None
    ) -> Extension:
        return await self._post(
            Extension,
            "/api/warranty/extensions",
            _body(ExtensionIn, serial=serial, plan_code=plan_code),
            key,
        )

    # --- authenticity ----------------------------------------------------------------

    async def verify_code(self, code: str, source: str) -> Check:
        return await self._post(
            Check, "/api/authenticity/verify", _body(VerifyIn, code=code, source=source)
        )

    async def report_counterfeit(self, *, key: str | None = None, **fields: Any) -> Report:
        return await self._post(Report, "/api/authenticity/reports", _body(ReportIn, **fields), key)

    # --- stations --------------------------------------------------------------------

    async def stations(
        self,
        *,
        city: str | None = None,
        kind: str | None = None,
        service: str | None = None,
        category: str | None = None,
        near: tuple[float, float] | None = None,
        limit: int = 20,
    ) -> list[Station]:
        return await self._get(
            list[Station],
            "/api/stations",
            city=city,
            kind=kind,
            service=service,
            category=category,
            near=f"{near[0]},{near[1]}" if near else None,
            limit=limit,
        )

    async def cities(self) -> list[City]:
        return await self._get(list[City], "/api/stations/cities")

    async def station(self, code: str) -> Station:
        return await self._get(Station, f"/api/stations/{_segment(code)}")

    async def slots(self, code: str, *, start: date | None = None, days: int = 7) -> list[Slot]:
        params: dict[str, Any] = {"days": days, "from": start.isoformat() if start else None}
        return parse_obj_as(
            list[Slot],
            await self._call("GET", f"/api/stations/{_segment(code)}/slots", params=params),
        )

    # --- work orders -----------------------------------------------------------------

    async def book(self, *, key: str | None = None, **fields: Any) -> WorkOrder:
        return await self._post(WorkOrder, "/api/workorders", _body(CreateIn, **fields), key)

    async def work_order(self, order_id: str) -> WorkOrder:
        return await self._get(WorkOrder, f"/api/workorders/{_segment(order_id)}")

    async def work_orders(
        self, *, serial: str | None = None, conversation_id: str | None = None
    ) -> list[WorkOrder]:
        return await self._get(
            list[WorkOrder], "/api/workorders", serial=serial, conversation_id=conversation_id
        )

    async def work_orders_by_phone(self, phone: str) -> list[WorkOrder]:
        """The orders booked with this phone number (sent in a body, never in the URL)."""
        return await self._post(
            list[WorkOrder], "/api/workorders/by-phone", _body(PhoneLookupIn, phone=phone)
        )

    async def verify_phone(self, order_id: str, digits: str, conversation_id: str) -> PhoneCheck:
        """Whether `digits` (the last four, or the whole number) match the phone on the order.

        Conflict `phone_tries_used`, `phone_check_locked` (with retry_after) or
        `no_phone_on_record` when the check cannot be made.
        """
        return await self._post(
            PhoneCheck,
            f"/api/workorders/{_segment(order_id)}/verify-phone",
            _body(PhoneCheckIn, digits=digits, conversation_id=conversation_id),
        )

    async def reschedule(
        self, order_id: str, slot_date: date, slot_start: str, station_code: str | None = None
    ) -> WorkOrder:
        body = _body(
            RescheduleIn, slot_date=slot_date, slot_start=slot_start, station_code=station_code
        )
        return await self._post(WorkOrder, f"/api/workorders/{_segment(order_id)}/reschedule", body)

    async def cancel(self, order_id: str, reason: str) -> WorkOrder:
        return await self._post(
            WorkOrder,
            f"/api/workorders/{_segment(order_id)}/cancel",
            _body(CancelIn, reason=reason),
        )

    async def rate(self, order_id: str, score: int, comment: str = "") -> WorkOrder:
        return await self._post(
            WorkOrder,
            f"/api/workorders/{_segment(order_id)}/rating",
            _body(RatingIn, score=score, comment=comment),
        )

    async def answer_followup(self, order_id: str, outcome: CustomerOutcome) -> Followup:
        """The customer's answer to the 回访 of the order's latest close."""
        return await self._post(
            Followup,
            f"/api/workorders/{_segment(order_id)}/followup",
            _body(FollowupAnswerIn, outcome=outcome),
        )

    # --- knowledge -------------------------------------------------------------------

    async def search_knowledge(
        self, q: str, *, category: str | None = None, model: str | None = None, limit: int = 5
    ) -> list[Hit]:
        body = _body(SearchIn, q=q, category=category, model=model, limit=limit)
        return await self._post(list[Hit], "/api/knowledge/search", body)

    async def case(self, code: str) -> Case:
        return await self._get(Case, f"/api/knowledge/cases/{_segment(code)}")

    # --- complaints and handoffs -----------------------------------------------------

    async def complain(self, *, key: str | None = None, **fields: Any) -> Complaint:
        return await self._post(Complaint, "/api/complaints", _body(ComplaintIn, **fields), key)

    async def complaints(
        self,
        *,
        status: str | None = None,
        conversation_id: str | None = None,
        work_order_id: str | None = None,
    ) -> list[Complaint]:
        return await self._get(
            list[Complaint],
            "/api/complaints",
            status=status,
            conversation_id=conversation_id,
            work_order_id=work_order_id,
        )

    async def work_order_complaints(self, order_id: str) -> list[Complaint]:
        """The complaints on one work order (internal: the search above is staff-only)."""
        return await self._get(list[Complaint], f"/api/workorders/{_segment(order_id)}/complaints")

    async def hand_off(
        self,
        *,
        conversation_id: str,
        channel: str,
        reason: str,
        package: dict[str, Any] | None = None,
        complaint_id: str | None = None,
        key: str | None = None,
    ) -> Handoff:
        body = _body(
            HandoffIn,
            conversation_id=conversation_id,
            channel=channel,
            reason=reason,
            package=_body(Package, **(package or {})),
            complaint_id=complaint_id,
        )
        return await self._post(Handoff, "/api/handoffs", body, key)

    async def request_callback(self, handoff_id: str, phone: str) -> Handoff:
        return await self._post(
            Handoff,
            f"/api/handoffs/{_segment(handoff_id)}/callback",
            _body(CallbackIn, phone=phone),
            None,
        )

    async def handoffs(
        self, *, status: str | None = None, conversation_id: str | None = None
    ) -> list[Handoff]:
        return await self._get(
            list[Handoff], "/api/handoffs", status=status, conversation_id=conversation_id
        )


M = TypeVar("M", bound=BaseModel)


def _body(schema: type[M], /, **fields: Any) -> M:
    """Validate on our side too, so a bad value fails as Invalid before a round trip."""
    try:
        return schema.parse_obj({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise Invalid(
            422, "invalid_body", f"{field}: {first['msg']}", {"fields": exc.errors()}
        ) from exc


def _segment(value: str) -> str:
    return quote(value.strip(), safe="")
