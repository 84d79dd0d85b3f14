"""The actions' shared pieces: the clock from the environment, texts, the conversation's history."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.common import answering, clock_from_env, text
from actions.conversation import history
from actions.handoffs import ActionDefaultAskAffirmation, failed_just_before, last_customer_message
from actions.workorders.changes import _customer_words
from bot.settings import Settings
from tests.support.trackers import make_tracker, user_event


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"BOT_TIMEZONE": "Europe/Berlin"},
        {"BOT_CLOCK": "2026-11-20T10:00:00"},
        {"BOT_CLOCK": "2026-11-20T23:30:00+00:00", "BOT_TIMEZONE": "Asia/Shanghai"},
    ],
)
def test_the_clock_is_the_backends(env: dict[str, str]) -> None:
    ours, backends = clock_from_env(env), Settings.from_env(env).clock()
    assert ours.tz == backends.tz
    if "BOT_CLOCK" in env:
        assert ours.now() == backends.now()
        assert ours.today() == backends.today()


def test_a_desk_setting_does_not_stop_the_action_server() -> None:
    env = {"BOT_DESK_HOURS": "whenever", "BOT_CLOCK": "2026-11-20T10:00"}
    with pytest.raises(ValueError, match="BOT_DESK_HOURS"):
        Settings.from_env(env)
    assert clock_from_env(env).today().isoformat() == "2026-11-20"
    with pytest.raises(ValueError, match="BOT_CLOCK"):
        clock_from_env({"BOT_CLOCK": "tomorrow"})


TEXTS: dict[str, Any] = {
    "responses": {
        "utter_hello": [
            {"text": "plain"},
            {"text": "for telegram", "channel": "telegram"},
            {"text": "for rest", "channel": "collector"},
        ],
        "utter_kind": [
            {
                "text": "on site",
                "condition": [{"type": "slot", "name": "kind", "value": "on_site"}],
            },
            {"text": "any {what}"},
        ],
    }
}


def test_variations_are_chosen_as_rasa_chooses_them() -> None:
    assert text(TEXTS, "utter_hello") == "plain"
    with answering(make_tracker("hi", channel="telegram")):
        assert text(TEXTS, "utter_hello") == "for telegram"
    # Rasa answers the REST channel through its CollectingOutputChannel, named "collector".
    with answering(make_tracker("hi", channel="rest")):
        assert text(TEXTS, "utter_hello") == "for rest"
    with answering(make_tracker("hi", channel="webchat")):
        assert text(TEXTS, "utter_hello") == "plain"
    with answering(make_tracker("hi", slots={"kind": "on_site"})):
        assert text(TEXTS, "utter_kind") == "on site"
    assert text(TEXTS, "utter_kind") == "any "
    assert text(TEXTS, "utter_missing") == "utter_missing"


async def test_an_action_composes_texts_for_its_channel(domain: dict[str, Any]) -> None:
    telegram = copy.deepcopy(domain)
    telegram["responses"]["utter_label_request_human"].append(
        {"text": "人工", "channel": "telegram"}
    )
    ranking = [{"name": "request_human", "confidence": 0.4}]
    titles = []
    for channel in ("telegram", "rest"):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker("?", "nlu_fallback", ranking=ranking, channel=channel)
        await ActionDefaultAskAffirmation().run(dispatcher, tracker, telegram)
        titles.append(dispatcher.messages[0]["buttons"][0]["title"])
    assert titles == ["人工", "转人工客服"]


def _action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


def test_history_walks_the_customers_messages_newest_first() -> None:
    tracker = make_tracker(
        "/affirm",
        "affirm",
        history=[
            user_event("我想取消预约，太远了", "cancel_booking"),
            _action("cancel_form"),
            _action("action_listen"),
            user_event("嗯嗯", "nonsense"),
            _action("action_default_fallback"),
            _action("action_listen"),
        ],
    )
    said = list(history(tracker))
    assert [s.intent for s in said] == ["affirm", "nonsense", "cancel_booking"]
    assert [s.answered_by for s in said] == [(), ("action_default_fallback",), ("cancel_form",)]
    assert failed_just_before(tracker)
    assert last_customer_message(tracker) == "嗯嗯"
    assert _customer_words(tracker, "cancel_booking") == "我想取消预约，太远了"
    assert _customer_words(tracker, "affirm") is None  # a button, not their words
    assert not failed_just_before(make_tracker("嗯嗯", "nonsense"))
