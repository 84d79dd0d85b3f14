"""Homophones and typos: corrected to key words and cities, everyday words left alone."""

from __future__ import annotations

import jieba
import pytest

from bot.contracts.spelling import Corrector, find_city, resolve_city

WORDS = ["保修", "维修", "防伪码", "序列号", "上海", "深圳", "重庆", "北京"]


@pytest.fixture(scope="module")
def corrector() -> Corrector:
    jieba.initialize()
    return Corrector(WORDS, common=jieba.dt.FREQ, keep=["报修", "上还"])


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("我在深证", "我在深圳"),  # zheng for zhen: a back nasal for a front one
        ("这个保休多久", "这个保修多久"),
        ("维秀要多少钱", "维修要多少钱"),
        ("防为码在哪看", "防伪码在哪看"),
        ("序列好是多少", "序列号是多少"),
    ],
)
def test_a_typo_of_a_key_word_is_corrected(corrector: Corrector, typed: str, meant: str) -> None:
    assert corrector.correct(typed) == meant


@pytest.mark.parametrize(
    "text",
    [
        "我要报修",  # a word of its own, not a typo of 保修
        "这样会伤害电池吗",  # 伤害 sounds like 上海 but is a common word
        "背景灯不亮",  # 背景 sounds like 北京
        "我这种情况能换吗",  # 种情 must not become 重庆
        "边上还漏光",
        "PF8M3X6T 开不了机",
    ],
)
def test_everyday_words_stay(corrector: Corrector, text: str) -> None:
    assert corrector.correct(text) == text


def test_the_length_is_kept(corrector: Corrector) -> None:
    typed = "深证南山 保休 防为码"
    assert len(corrector.correct(typed)) == len(typed)


@pytest.mark.parametrize(
    ("said", "city"),
    [("上海市", "上海"), ("沪", "上海"), ("深证", "深圳"), ("魔都", "上海"), ("重庆", "重庆")],
)
def test_a_city_is_resolved_against_the_catalogue(said: str, city: str) -> None:
    assert resolve_city(said, ["上海", "深圳", "重庆", "北京"]) == city


def test_a_city_without_a_station_is_not_guessed() -> None:
    assert resolve_city("拉萨", ["上海", "深圳"]) is None
    assert resolve_city("京", ["上海", "深圳"]) is None


@pytest.mark.parametrize(
    ("said", "city"),
    [("我在沪", "上海"), ("人在深证呢", "深圳"), ("上海市的", "上海"), ("在帝都", "北京")],
)
def test_a_city_is_found_in_an_answer(said: str, city: str) -> None:
    assert find_city(said, ["上海", "深圳", "北京", "南京"]) == city


@pytest.mark.parametrize("said", ["没有", "asdf", "不知道"])
def test_an_answer_without_a_city_finds_none(said: str) -> None:
    assert find_city(said, ["上海", "深圳", "北京", "南京"]) is None
