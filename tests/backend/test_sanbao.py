"""The 三包 engine on dated cases, against the real policy tables in bot/policies."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from bot.sanbao import DeviceFacts, Fault, ImpossibleDate, Length, Policy, RepairFact, decide

POLICIES = Path(__file__).resolve().parents[2] / "bot" / "policies"
# 2021-01-10 + 730 days = 2023-01-10: no 29 February inside, so "2 years" is exactly 730 days.
INVOICE = date(2021, 1, 10)


def policy(name: str) -> Policy:
    return Policy.parse_obj(yaml.safe_load((POLICIES / f"{name}.yml").read_text(encoding="utf-8")))


def day(n: int) -> date:
    return INVOICE + timedelta(days=n)


def laptop(**kwargs: object) -> DeviceFacts:
    return DeviceFacts(category="laptop", invoice_date=INVOICE, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "fault", "remedy", "options", "basis"),
    [
        (0, Fault(), "return", ["return", "exchange", "free_repair"], "return_window"),
        (6, Fault(), "return", ["return", "exchange", "free_repair"], "return_window"),
        (7, Fault(), "return", ["return", "exchange", "free_repair"], "return_window"),
        (8, Fault(), "exchange", ["exchange", "free_repair"], "exchange_window"),
        (15, Fault(), "exchange", ["exchange", "free_repair"], "exchange_window"),
        (16, Fault(), "free_repair", ["free_repair"], "whole_machine"),
        (6, Fault(performance_fault=False), "free_repair", ["free_repair"], "whole_machine"),
        (365, Fault(part="battery"), "free_repair", ["free_repair"], "whole_machine"),
        (366, Fault(part="battery"), "paid_repair", ["paid_repair"], "expired"),
        (366, Fault(part="mainboard"), "free_repair", ["free_repair"], "main_parts"),
        (730, Fault(part="display_panel"), "free_repair", ["free_repair"], "main_parts"),
        (731, Fault(part="mainboard"), "paid_repair", ["paid_repair"], "expired"),
        (6, Fault(exclusions=("man_made_damage",)), "paid_repair", ["paid_repair"], "exclusion"),
        (
            200,
            Fault(part="memory", exclusions=("liquid_damage",)),
            "paid_repair",
            ["paid_repair"],
            "exclusion",
        ),
    ],
)
def test_pc_windows(n: int, fault: Fault, remedy: str, options: list[str], basis: str) -> None:
    decision = decide(policy("pc"), laptop(), fault, day(n))
    assert decision.remedy == remedy
    assert [o.remedy for o in decision.options] == options
    assert decision.basis == basis
    assert decision.days_since_invoice == n
    assert decision.reasons and all(r.text for r in decision.reasons)


def test_each_option_runs_until_its_own_last_day() -> None:
    decision = decide(policy("pc"), laptop(), Fault(part="mainboard"), day(6))
    assert [(o.remedy, o.until) for o in decision.options] == [
        ("return", day(7)),
        ("exchange", day(15)),
        ("free_repair", date(2023, 1, 10)),  # main part: two years
    ]
    assert decision.reasons[0].article == "第十一条"


def test_coverage_lists_every_window_and_whether_it_still_runs() -> None:
    decision = decide(policy("pc"), laptop(), Fault(), day(100))
    assert [(c.key, c.ends_on, c.active) for c in decision.coverage] == [
        ("return_window", day(7), False),
        ("exchange_window", day(15), False),
        ("whole_machine", date(2022, 1, 10), True),
        ("main_parts", date(2023, 1, 10), True),
    ]


def test_two_failed_repairs_of_the_same_fault_give_an_exchange() -> None:
    facts = laptop(repairs=(RepairFact(day(100), "mainboard"), RepairFact(day(200), "mainboard")))
    decision = decide(policy("pc"), facts, Fault(part="mainboard"), day(250))
    assert decision.remedy == "exchange"
    assert decision.basis == "repeat_repair"
    assert [o.remedy for o in decision.options] == ["exchange", "free_repair"]
    assert decision.options[0].until == date(2022, 1, 10)


def test_repairs_of_another_part_do_not_count_towards_an_exchange() -> None:
    facts = laptop(repairs=(RepairFact(day(100), "keyboard"), RepairFact(day(200), "mainboard")))
    decision = decide(policy("pc"), facts, Fault(part="mainboard"), day(250))
    assert decision.remedy == "free_repair"


def test_repeat_repair_in_the_main_part_period() -> None:
    facts = laptop(repairs=(RepairFact(day(400), "hard_disk"), RepairFact(day(450), "hard_disk")))
    decision = decide(policy("pc"), facts, Fault(part="hard_disk"), day(500))
    assert decision.remedy == "exchange"
    assert decision.options[0].until == date(2023, 1, 10)


def test_a_repair_is_guaranteed_for_30_days_after_the_period() -> None:
    facts = laptop(repairs=(RepairFact(day(360), "battery"),))
    decision = decide(policy("pc"), facts, Fault(part="battery"), day(380))
    assert decision.remedy == "free_repair"
    assert decision.basis == "repair_guarantee"
    assert decision.until == day(390)
    assert decide(policy("pc"), facts, Fault(part="battery"), day(391)).remedy == "paid_repair"


def test_an_extension_keeps_free_repair_after_the_period() -> None:
    facts = laptop(extended_until=date(2024, 1, 10), extension_reason="延保服务期内")
    decision = decide(policy("pc"), facts, Fault(part="battery"), day(900))
    assert (decision.remedy, decision.basis, decision.until) == (
        "free_repair",
        "extended_warranty",
        date(2024, 1, 10),
    )
    assert decision.reasons[0].text == "延保服务期内"


def test_no_invoice_voids_free_remedies() -> None:
    facts = DeviceFacts(category="laptop", invoice_date=None)
    decision = decide(policy("pc"), facts, Fault(), day(3))
    assert decision.remedy == "paid_repair"
    assert decision.basis == "exclusion"
    assert decision.reasons[0].article == "第九条"
    assert decision.days_since_invoice is None


def test_a_day_before_the_invoice_is_impossible() -> None:
    with pytest.raises(ImpossibleDate):
        decide(policy("pc"), laptop(), Fault(), day(-1))


def test_desktop_main_parts_differ_from_notebook_ones() -> None:
    desktop = DeviceFacts(category="desktop", invoice_date=INVOICE)
    assert (
        decide(policy("pc"), desktop, Fault(part="power_supply"), day(400)).remedy == "free_repair"
    )
    assert decide(policy("pc"), desktop, Fault(part="keyboard"), day(400)).remedy == "paid_repair"
    assert decide(policy("pc"), laptop(), Fault(part="keyboard"), day(400)).remedy == "free_repair"


def test_manufacturer_policies() -> None:
    printer = DeviceFacts(category="printer", invoice_date=INVOICE)
    assert decide(policy("printer"), printer, Fault(), day(10)).remedy == "exchange"
    assert decide(policy("printer"), printer, Fault(part="fuser"), day(500)).remedy == "free_repair"
    assert (
        decide(policy("printer"), printer, Fault(part="pickup_roller"), day(500)).remedy
        == "paid_repair"
    )
    monitor = DeviceFacts(category="monitor", invoice_date=INVOICE)
    assert (
        decide(policy("monitor"), monitor, Fault(part="display_panel"), day(1000)).remedy
        == "free_repair"
    )
    toner = DeviceFacts(category="toner", invoice_date=INVOICE)
    assert decide(policy("consumables"), toner, Fault(), day(100)).remedy == "exchange"
    assert (
        decide(
            policy("consumables"), toner, Fault(exclusions=("consumable_wear",)), day(100)
        ).remedy
        == "paid_repair"
    )


def test_every_policy_file_is_valid_and_covers_each_category_once() -> None:
    covered: list[str] = []
    for path in sorted(POLICIES.glob("*.yml")):
        loaded = policy(path.stem)
        covered += loaded.categories
        assert loaded.expired.remedies == ["paid_repair"]
        assert {"no_invoice", "man_made_damage", "improper_use"} <= {
            e.key for e in loaded.exclusions
        }
    assert sorted(covered) == sorted(
        ["laptop", "desktop", "printer", "copier", "monitor", "toner", "ink", "drum", "battery"]
    )


@pytest.mark.parametrize(
    ("start", "length", "end"),
    [
        (date(2024, 2, 29), Length(years=1), date(2025, 2, 28)),
        (date(2025, 1, 31), Length(months=1), date(2025, 2, 28)),
        (date(2025, 12, 25), Length(days=7), date(2026, 1, 1)),
        (date(2025, 11, 30), Length(months=3), date(2026, 2, 28)),
    ],
)
def test_period_ends(start: date, length: Length, end: date) -> None:
    assert length.end(start) == end


def test_a_length_needs_exactly_one_unit() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Length(days=7, years=1)
