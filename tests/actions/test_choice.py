"""A station chosen in words, against the stations offered, in their order."""

from __future__ import annotations

import pytest

from actions.workorders.choice import choose_station
from bot.contracts.stations import Station


def _station(code: str, name: str, district: str) -> Station:
    return Station(
        code=code,
        kind="service",
        name=name,
        city="上海",
        district=district,
        address="",
        phone="",
        hours="",
        open_weekdays=[],
        services=[],
        categories=[],
        daily_capacity=1,
        lat=0.0,
        lon=0.0,
    )


OFFERED = [
    _station("SH01", "星辰科技授权服务中心（上海徐家汇店）", "徐汇区"),
    _station("SH02", "星辰科技授权服务中心（上海浦东店）", "浦东新区"),
]


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("浦东那个", "SH02"),
        ("浦东新区的吧", "SH02"),
        ("徐家汇", "SH01"),
        ("第二个", "SH02"),
        ("第1家", "SH01"),
        ("最后一个吧", "SH02"),
    ],
)
def test_a_station_is_chosen_in_words(said: str, code: str) -> None:
    chosen = choose_station(said, OFFERED)
    assert chosen.station is not None and chosen.station.code == code


def test_an_ordinal_beyond_the_list_chooses_nothing() -> None:
    assert choose_station("第三个", OFFERED).station is None


def test_nearest_is_recognised_but_needs_a_place() -> None:
    chosen = choose_station("离我近的那个", OFFERED)
    assert chosen.station is None and chosen.nearest


def test_words_that_name_no_station_choose_nothing() -> None:
    chosen = choose_station("随便吧", OFFERED)
    assert chosen.station is None and not chosen.nearest
