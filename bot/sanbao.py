"""The 三包 entitlement engine: which remedy a device is entitled to on a given day, and why.

Pure functions over policy data (``bot/policies/*.yml``): the state regulation for PCs and the
manufacturer's own policies for everything else have the same shape, so one engine serves all.
Periods run from the invoice date; the day of sale is not counted, so "within 7 days" means up
to and including invoice date + 7 days.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field, root_validator, validator

Remedy = Literal["return", "exchange", "free_repair", "paid_repair"]
REMEDY_STRENGTH: dict[str, int] = {"return": 0, "exchange": 1, "free_repair": 2, "paid_repair": 3}
EXCLUSION_KEYS = (
    "no_invoice",
    "invoice_mismatch",
    "man_made_damage",
    "unauthorised_disassembly",
    "improper_use",
    "force_majeure",
    "consumable_wear",
    "non_genuine_consumable",
    "liquid_damage",
)


class Length(BaseModel):
    days: int | None = Field(None, gt=0)
    months: int | None = Field(None, gt=0)
    years: int | None = Field(None, gt=0)

    @root_validator(skip_on_failure=True)
    def _exactly_one(cls, values: dict[str, int | None]) -> dict[str, int | None]:
        if sum(v is not None for v in values.values()) != 1:
            raise ValueError("give exactly one of days, months, years")
        return values

    def end(self, start: date) -> date:
        """The last day of a period that starts the day after `start`."""
        if self.days is not None:
            return start + timedelta(days=self.days)
        months = (self.months or 0) + 12 * (self.years or 0)
        year, month = divmod(start.month - 1 + months, 12)
        year += start.year
        day = min(start.day, calendar.monthrange(year, month + 1)[1])
        return date(year, month + 1, day)


class Window(BaseModel):
    key: str
    length: Length
    requires: Literal["performance_fault", "main_part", "none"] = "none"
    remedies: list[Remedy] = Field(min_items=1)
    article: str | None
    reason: str


class RepeatRepair(BaseModel):
    failed_repairs: int = Field(gt=0)
    remedies: list[Remedy] = Field(min_items=1)
    article: str | None
    reason: str


class RepairGuarantee(BaseModel):
    days: int = Field(gt=0)
    article: str | None
    reason: str


class Expired(BaseModel):
    remedies: list[Remedy] = Field(min_items=1)
    reason: str


class Exclusion(BaseModel):
    key: Literal[EXCLUSION_KEYS]  # type: ignore[valid-type]
    article: str | None
    reason: str


class Policy(BaseModel):
    code: str = Field(regex=r"^[a-z][a-z0-9_]{1,39}$")
    title: str
    source: str
    legal: bool
    categories: list[str] = Field(min_items=1)
    main_parts: dict[str, list[str]] = {}
    windows: list[Window] = Field(min_items=1)
    repeat_repair: RepeatRepair | None = None
    repair_guarantee: RepairGuarantee | None = None
    expired: Expired
    exclusions: list[Exclusion]

    @validator("exclusions")
    def _unique_exclusions(cls, value: list[Exclusion]) -> list[Exclusion]:
        keys = [e.key for e in value]
        if len(keys) != len(set(keys)):
            raise ValueError("an exclusion key is listed twice")
        return value

    def exclusion(self, key: str) -> Exclusion | None:
        return next((e for e in self.exclusions if e.key == key), None)

    def base_end(self, invoice_date: date) -> date:
        """End of the coverage every fault gets (windows without conditions)."""
        ends = [w.length.end(invoice_date) for w in self.windows if w.requires == "none"]
        return max(ends) if ends else invoice_date


@dataclass(frozen=True)
class RepairFact:
    repaired_on: date
    part: str | None


@dataclass(frozen=True)
class DeviceFacts:
    category: str
    invoice_date: date | None
    extended_until: date | None = None
    extension_reason: str | None = None
    repairs: tuple[RepairFact, ...] = ()


@dataclass(frozen=True)
class Fault:
    part: str | None = None
    performance_fault: bool = True
    exclusions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reason:
    text: str
    article: str | None


@dataclass(frozen=True)
class Option:
    remedy: str
    until: date | None


@dataclass(frozen=True)
class Coverage:
    key: str
    requires: str
    ends_on: date
    active: bool


@dataclass(frozen=True)
class Decision:
    remedy: str
    options: tuple[Option, ...]
    basis: str
    reasons: tuple[Reason, ...]
    main_part: bool
    days_since_invoice: int | None
    coverage: tuple[Coverage, ...] = field(default=())

    @property
    def until(self) -> date | None:
        return self.options[0].until


class ImpossibleDate(ValueError):
    """The day asked about lies before the invoice date."""


def _paid(
    policy: Policy,
    basis: str,
    reasons: list[Reason],
    main: bool,
    days: int | None,
    coverage: tuple[Coverage, ...],
) -> Decision:
    options = tuple(Option(r, None) for r in policy.expired.remedies)
    return Decision(options[0].remedy, options, basis, tuple(reasons), main, days, coverage)


def decide(policy: Policy, facts: DeviceFacts, fault: Fault, on_date: date) -> Decision:
    """The verdict for one fault of one device on `on_date`.

    Order: exclusions void free remedies; then the first window that holds gives the remedies,
    each until the last day any holding window still offers it; repeated failed repairs add an
    exchange; after the windows, the repair guarantee and a bought extension keep free repair.
    """
    main = fault.part is not None and fault.part in policy.main_parts.get(facts.category, [])
    invoice = facts.invoice_date
    if invoice is not None and on_date < invoice:
        raise ImpossibleDate(f"{on_date} is before the invoice date {invoice}")
    days = (on_date - invoice).days if invoice is not None else None
    coverage = (
        tuple(
            Coverage(w.key, w.requires, w.length.end(invoice), on_date <= w.length.end(invoice))
            for w in policy.windows
        )
        if invoice is not None
        else ()
    )

    excluded = list(fault.exclusions)
    if invoice is None and "no_invoice" not in excluded:
        excluded.insert(0, "no_invoice")
    if excluded:
        reasons = []
        for key in excluded:
            rule = policy.exclusion(key)
            if rule is None:
                raise KeyError(key)
            reasons.append(Reason(rule.reason, rule.article))
        return _paid(policy, "exclusion", reasons, main, days, coverage)
    assert invoice is not None

    def holds(w: Window) -> bool:
        if on_date > w.length.end(invoice):
            return False
        if w.requires == "performance_fault":
            return fault.performance_fault
        if w.requires == "main_part":
            return main
        return True

    holding = [w for w in policy.windows if holds(w)]
    if holding:
        first = holding[0]
        remedies = list(first.remedies)
        reasons = [Reason(first.reason, first.article)]
        basis = first.key
        repeat = policy.repeat_repair
        if repeat is not None and fault.part is not None:
            start = invoice
            same = [
                r
                for r in facts.repairs
                if r.part == fault.part and start <= r.repaired_on <= on_date
            ]
            if len(same) >= repeat.failed_repairs:
                remedies = sorted(
                    set(remedies) | set(repeat.remedies), key=REMEDY_STRENGTH.__getitem__
                )
                reasons.insert(0, Reason(repeat.reason, repeat.article))
                basis = "repeat_repair"
        options = []
        for remedy in remedies:
            ends = [w.length.end(invoice) for w in holding if remedy in w.remedies]
            # A remedy granted only by the repeat-repair rule lasts as long as the window
            # the fault is covered by now.
            until = max(ends) if ends else first.length.end(invoice)
            options.append(Option(remedy, until))
        return Decision(
            options[0].remedy, tuple(options), basis, tuple(reasons), main, days, coverage
        )

    free: list[tuple[date, str, Reason]] = []
    guarantee = policy.repair_guarantee
    if guarantee is not None and fault.part is not None:
        recent = [
            r.repaired_on
            for r in facts.repairs
            if r.part == fault.part and r.repaired_on <= on_date
        ]
        if recent:
            until = max(recent) + timedelta(days=guarantee.days)
            if on_date <= until:
                free.append(
                    (until, "repair_guarantee", Reason(guarantee.reason, guarantee.article))
                )
    if facts.extended_until is not None and on_date <= facts.extended_until:
        free.append(
            (facts.extended_until, "extended_warranty", Reason(facts.extension_reason or "", None))
        )
    if free:
        until, basis, reason = max(free, key=lambda item: item[0])
        return Decision(
            "free_repair", (Option("free_repair", until),), basis, (reason,), main, days, coverage
        )
    return _paid(policy, "expired", [Reason(policy.expired.reason, None)], main, days, coverage)
