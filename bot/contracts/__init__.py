"""The contracts between the processes: what the action server, the NLU and the channels share
with the service backend.

Pure by rule: request and response models, ID types and their normalisers, stable error codes
and the business rules both sides must agree on. Nothing here imports a web framework, the
database layer or the desk; `tests/test_boundaries.py` fails the build when something does.
Actions, NLU components and connectors import this package, `bot.client`, `bot.normalize` and
the 三包 engine `bot.sanbao`, and nothing else of `bot`.
"""
