"""Transitional: the id normalisers moved to `bot.contracts.ids`, allocation to `bot.sequences`."""

from bot.contracts.ids import *  # noqa: F403
from bot.sequences import SequenceExhausted, next_id  # noqa: F401
