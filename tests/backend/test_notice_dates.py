"""A notice says a slot's day with its weekday (never 今天/明天: quiet hours may hold it)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

from bot.notices import Responses
from bot.outbox import values_of

DOMAIN = Path(__file__).resolve().parents[2] / "domain.yml"


def test_a_notice_says_the_slot_with_its_weekday() -> None:
    responses = Responses.load(DOMAIN)
    order = SimpleNamespace(
        id="WO20261120-0001",
        slot_date=date(2026, 11, 21),
        slot_start="09:00",
        station_name="星辰科技授权服务中心（北京中关村店）",
        station_address="北京市海淀区",
        station_phone="010-6255 3120",
    )
    values = values_of(responses, SimpleNamespace(facts={}), order)
    assert values["slot"] == "11月21日 周六 09:00-10:30"
    assert values["slot_line"] == "，预约时间：11月21日 周六 09:00-10:30"
