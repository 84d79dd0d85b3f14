"""The one Rasa function this project replaces, applied by the launcher (scripts/rasa_server.py).

Rasa has no extension point for how it checks an action server's answer: `RemoteAction` is
built by Rasa itself for every custom action. Its `_validate_action_result` calls
`jsonschema.validate`, which first re-checks Rasa's response schema against the Draft 2020-12
metaschema and builds a new validator, on every action call: 21.5 % of Rasa's CPU under load
(issue 13's profile). The replacement checks the same schema with a validator built (and the
schema checked) once, and raises the same error (`best_match`, with Rasa's hint appended).

A Rasa upgrade that changes the original fails tests/test_rasa_overrides.py (it compares a
hash of the original's source): then compare, and update or drop the override.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from functools import cache
from typing import Any

from jsonschema import exceptions
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

log = logging.getLogger(__name__)

# sha256 of inspect.getsource(RemoteAction._validate_action_result) in Rasa 3.6.
ORIGINAL_SOURCE_SHA256 = "f8cdb4be6812396167ced74161b2ccd65c5ea676ad86d7d359d8c322d9d8dc42"
ORIGINAL = RemoteAction._validate_action_result


def source_hash(function: Any) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


@cache
def response_validator() -> Validator:
    """Rasa's action response schema, checked against its metaschema once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """What Rasa's `RemoteAction._validate_action_result` does, without the checks that
    cannot change between calls."""
    error = exceptions.best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def apply() -> bool:
    """Install the replacement into Rasa (idempotent); called before Rasa starts. Against
    another Rasa version's original, keep Rasa's own (slower, never wrong) and say so."""
    if source_hash(ORIGINAL) != ORIGINAL_SOURCE_SHA256:
        log.warning("rasa_ext: RemoteAction._validate_action_result changed; not replaced")
        return False
    RemoteAction._validate_action_result = validate_action_result
    return True
