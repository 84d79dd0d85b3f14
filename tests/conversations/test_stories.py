"""The conversation tests of tests/stories, run two ways against the running system.

1. `rasa test core --e2e`: Rasa's own evaluation of every user message (intent and entities)
   and every predicted action of each story.
2. Through the REST channel: each story is replayed as a customer would type it; the actions
   really run against the backend, and the actions and slots the story names must be exactly
   those the tracker records, turn by turn. A turn without any reply fails.

The replay reads Rasa's story format itself and understands only what the stories use today:
user messages and button presses (intent with entities), actions, `slot_was_set` with values,
and `active_loop` steps, which it leaves to `rasa test`. Anything else (`or`, checkpoints, `bot`
texts, slots without a value, rules...) stops the collection with the story and step named,
instead of being left out of the replay without a word.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.support.rest import say
from tests.support.stack import BIN, ROOT, Stack, latest_model

STORIES = ROOT / "tests" / "stories"
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass
class ExpectedTurn:
    message: str
    intent: str
    actions: list[str] = field(default_factory=list)
    slots: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class Story:
    name: str
    file: str
    turns: list[ExpectedTurn]


def _message(step: dict[str, Any]) -> str:
    if "user" in step:
        return ANNOTATION.sub(r"\1", str(step["user"])).strip()
    # A button press: the payload a button of this intent and entities would carry.
    entities: dict[str, Any] = {}
    for entity in step.get("entities") or []:
        entities.update(entity)
    return f"/{step['intent']}" + (json.dumps(entities, ensure_ascii=False) if entities else "")


class UnsupportedStory(ValueError):
    """A story uses what the replay does not understand; it would pass the replay unchecked."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(
            f"{where}: {what}. The REST replay (tests/conversations/test_stories.py) does not"
            " understand it and would not check it: write the story without it, or teach the"
            " replay first"
        )


FILE_KEYS = {"version", "stories"}
STORY_KEYS = {"story", "steps", "metadata"}
# The steps the replay understands, by their keys. `active_loop` steps are not compared (the
# replay checks actions and slots; `rasa test` checks the loops).
USER_STEPS = [{"user", "intent"}, {"intent"}, {"intent", "entities"}]
OTHER_STEPS = [{"action"}, {"slot_was_set"}, {"active_loop"}]


def _check_step(step: Any, where: str, *, before_any_turn: bool) -> None:
    keys = set(step) if isinstance(step, dict) else set()
    if keys not in USER_STEPS + OTHER_STEPS:
        raise UnsupportedStory(where, f"a step with {sorted(keys) or repr(step)}")
    if keys in OTHER_STEPS and before_any_turn:
        raise UnsupportedStory(where, f"{sorted(keys)} before the first user message")
    if not all(isinstance(entity, dict) for entity in step.get("entities") or []):
        raise UnsupportedStory(where, "an entity without a value")
    if not all(isinstance(slot, dict) for slot in step.get("slot_was_set") or []):
        raise UnsupportedStory(where, "a slot in slot_was_set without a value")


def load_stories(folder: Path = STORIES) -> list[Story]:
    """The stories of test_*.yml in folder, as turns; UnsupportedStory if the replay would skip."""
    stories = []
    for path in sorted(folder.glob("test_*.yml")):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        if set(loaded) - FILE_KEYS:
            raise UnsupportedStory(path.name, f"{sorted(set(loaded) - FILE_KEYS)} (only stories)")
        for story in loaded["stories"]:
            where = f"{path.name}, story {story.get('story')!r}"
            if set(story) - STORY_KEYS:
                raise UnsupportedStory(where, f"{sorted(set(story) - STORY_KEYS)}")
            turns: list[ExpectedTurn] = []
            for number, step in enumerate(story["steps"], start=1):
                _check_step(step, f"{where}, step {number}", before_any_turn=not turns)
                if "intent" in step or "user" in step:
                    turns.append(ExpectedTurn(_message(step), step.get("intent", "")))
                elif "action" in step:
                    turns[-1].actions.append(step["action"])
                elif "slot_was_set" in step:
                    for slot in step["slot_was_set"]:
                        turns[-1].slots.extend(slot.items() if isinstance(slot, dict) else [])
            stories.append(Story(story["story"], path.name, turns))
    return stories


ALL = load_stories()

# A work order a story books gets the next free number of the day, and other tests book on the
# same stack: "WO20261120-NNNN" stands for any number of that day (`rasa test` only sees a text).
ANY_NUMBER = "-NNNN"


def _was_set(expected: tuple[str, Any], slots: list[tuple[str, Any]]) -> bool:
    name, value = expected
    if not (isinstance(value, str) and value.endswith(ANY_NUMBER)):
        return expected in slots
    shape = re.escape(value.removesuffix(ANY_NUMBER)) + r"-\d{4}"
    return any(n == name and isinstance(v, str) and re.fullmatch(shape, v) for n, v in slots)


def test_there_are_stories_for_every_journey() -> None:
    files = {story.file for story in ALL}
    assert len(ALL) >= 30
    assert {
        f"test_{concern}.yml"
        for concern in (
            "general",
            "knowledge",
            "warranty",
            "workorders",
            "authenticity",
            "stations",
            "catalogue",
            "complaints",
            "handoffs",
        )
    } <= files


def test_rasa_test_predicts_every_story(stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "results"
    run = subprocess.run(
        [
            str(BIN / "rasa"),
            "test",
            "core",
            "--e2e",
            "--model",
            str(latest_model()),
            "--stories",
            str(STORIES),
            "--endpoints",
            str(stack.endpoints),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    failed = (out / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "stories:" not in failed, failed


@pytest.mark.parametrize("story", ALL, ids=[f"{s.file}: {s.name}" for s in ALL])
async def test_story_runs_through_the_rest_channel(stack: Stack, story: Story) -> None:
    sender = f"story-{ALL.index(story)}"
    async with aiohttp.ClientSession() as session:
        for number, expected in enumerate(story.turns, start=1):
            turn = await say(session, stack.rasa_url, sender, expected.message)
            where = (
                f"turn {number} {expected.message!r}: intent {turn.intent}, actions {turn.actions},"
                f" replies {[r.get('text', '')[:80] for r in turn.replies]}"
            )
            assert turn.replies, f"{where}: the customer got no answer"
            assert turn.intent == expected.intent, where
            assert turn.actions == expected.actions, where
            for slot in expected.slots:
                assert _was_set(slot, turn.slots), f"{where}: {slot} not in {turn.slots}"
