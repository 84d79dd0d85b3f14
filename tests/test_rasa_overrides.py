"""The one Rasa function the project replaces (rasa_ext.overrides) still fits Rasa, and the
replacement accepts and refuses what Rasa's own check does."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from rasa_ext import overrides

VALID: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "serial_number", "value": "PF2K7Q9A"}]},
    {"responses": [{"response": "utter_greet"}, {"text": "你好", "buttons": []}]},
]
INVALID: list[dict[str, Any]] = [
    {"events": [{"name": "no event key"}]},
    {"events": [{"event": "slot", "name": "x", "timestamp": "not a number"}]},
    {"events": "not a list"},
]


def test_rasas_original_is_the_one_the_override_was_written_for() -> None:
    # Fails on a Rasa upgrade that changes the original: compare the new source with
    # overrides.validate_action_result, then update ORIGINAL_SOURCE_SHA256 or drop it.
    assert overrides.source_hash(overrides.ORIGINAL) == overrides.ORIGINAL_SOURCE_SHA256


@pytest.mark.parametrize("result", INVALID)
def test_an_invalid_answer_is_refused_with_rasas_message(result: dict[str, Any]) -> None:
    action = RemoteAction("action_x", None)
    with pytest.raises(ValidationError) as theirs:
        overrides.ORIGINAL(action, result)
    with pytest.raises(ValidationError) as ours:
        overrides.validate_action_result(action, result)
    assert ours.value.message == theirs.value.message
    assert "Failed to validate Action server response" in ours.value.message


@pytest.mark.parametrize("result", VALID)
def test_a_valid_answer_passes_both(result: dict[str, Any]) -> None:
    action = RemoteAction("action_x", None)
    assert overrides.ORIGINAL(action, result) is True
    assert overrides.validate_action_result(action, result) is True


def test_applying_replaces_rasas_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RemoteAction, "_validate_action_result", overrides.ORIGINAL)
    assert overrides.apply() is True
    assert RemoteAction._validate_action_result is overrides.validate_action_result
    assert overrides.apply() is True  # twice is harmless


def test_a_changed_original_is_left_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RemoteAction, "_validate_action_result", overrides.ORIGINAL)
    monkeypatch.setattr(overrides, "ORIGINAL_SOURCE_SHA256", "0" * 64)
    assert overrides.apply() is False
    assert RemoteAction._validate_action_result is overrides.ORIGINAL
