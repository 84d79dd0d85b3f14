"""A phone number as customers type it: spaced, with dashes, full-width, in Chinese numerals."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.common import read_phone


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("一三九 一七二八 四四零六", "13917284406"),
        ("幺三八〇〇幺三八〇〇〇", "13800138000"),
        ("139-1728-4406", "13917284406"),
        ("１３９ １７２８ ４４０６", "13917284406"),
        ("(010) 6552 8899", "01065528899"),
    ],
)
def test_a_number_in_any_writing_is_read(typed: str, read: str) -> None:
    dispatcher = CollectingDispatcher()
    assert read_phone(typed, dispatcher) == {"phone": read}
    assert dispatcher.messages == []


@pytest.mark.parametrize("typed", ["一三九", "asdf", "下午再说", "139 1728 440"])
def test_what_is_no_number_is_asked_again(typed: str) -> None:
    dispatcher = CollectingDispatcher()
    assert read_phone(typed, dispatcher) == {"phone": None}
    assert dispatcher.messages[0]["response"] == "utter_phone_invalid"
