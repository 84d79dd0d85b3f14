"""Every process of the system on SIGTERM, as `make run`'s supervisor stops them (Rasa first,
then the action server, then the backend): each finishes the request in flight, stops
accepting, and exits with 0 within 10 s.

A stack of its own (the session's `stack` must keep running for the other tests). The request
in flight is a real customer turn and a real action call, sent slowly; SIGTERM arrives while
the server holds it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.shared.core.domain import Domain

from tests.support.database import REST_HEADERS
from tests.support.inflight import SlowRequest, exit_after, refuses, terminate
from tests.support.stack import ROOT, Stack

# A slot-filled locator question: Rasa runs the form and action_find_stations, which asks the
# backend for stations and cities.
CUSTOMER = {"sender": "leaving-soon", "message": "上海哪里有维修点"}


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("shutdown-stack")).start()
    try:
        yield running
    finally:
        running.stop()


def _log(stack: Stack, name: str) -> str:
    return (stack.workdir / f"{name}.log").read_text(errors="replace")


def _action_call(stack: Stack) -> dict[str, Any]:
    domain = Domain.load(str(ROOT / "domain.yml")).as_dict()
    return {
        "next_action": "action_find_stations",
        "sender_id": "leaving-soon",
        "version": "3.6.2",
        "domain": domain,
        "tracker": {
            "sender_id": "leaving-soon",
            "slots": {"city": "上海"},
            "latest_message": {"intent": {"name": "find_service_center"}, "entities": []},
            "events": [],
            "paused": False,
        },
    }


def test_each_process_finishes_its_request_in_flight_and_exits_within_10_s(
    own_stack: Stack,
) -> None:
    backend, actions, rasa = own_stack.processes
    times: dict[str, float] = {}

    # Rasa: a customer's turn in flight (it calls the action server, which calls the backend).
    turn = SlowRequest(
        own_stack.rasa_port, "POST", "/webhooks/rest/webhook", CUSTOMER, REST_HEADERS
    ).start()
    time.sleep(0.5)
    sent = terminate(rasa)
    assert refuses(own_stack.rasa_port), "Rasa still accepts connections after SIGTERM"
    time.sleep(1.0)
    status, replies = turn.finish()
    assert status == 200, replies
    assert any("上海" in str(r.get("text")) for r in replies), replies
    times["rasa"] = exit_after(rasa, sent)
    assert rasa.returncode == 0, _log(own_stack, f"rasa-{own_stack.rasa_port}")[-3000:]

    # The action server: an action call in flight (it calls the backend).
    call = SlowRequest(
        own_stack.actions_port,
        "POST",
        "/webhook",
        _action_call(own_stack),
        {"Authorization": f"Bearer {own_stack.actions_token}"},
        held_back=100,
    ).start()
    time.sleep(0.5)
    sent = terminate(actions)
    assert refuses(own_stack.actions_port), "the action server still accepts connections"
    time.sleep(1.0)
    status, answer = call.finish()
    assert status == 200, answer
    assert answer["responses"][0]["response"] == "utter_stations_found", answer
    times["actions"] = exit_after(actions, sent)
    assert actions.returncode == 0, _log(own_stack, "actions")[-3000:]

    # The backend, last (its in-flight request is tests/backend/test_shutdown.py's).
    sent = terminate(backend)
    times["backend"] = exit_after(backend, sent)
    assert backend.returncode == 0, _log(own_stack, "backend")[-3000:]
    assert "did not stop in time" not in _log(own_stack, "backend"), "a desk loop was cut"

    print("seconds from SIGTERM to exit:", {k: round(v, 1) for k, v in times.items()})
    assert all(took < 10 for took in times.values()), times
    own_stack.processes.clear()
