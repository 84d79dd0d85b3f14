"""Extensions of Rasa's own process: what runs inside `rasa run` beside the NLU components
(`nlu/`) and the channels (`connectors/`). Like those, it shares only the backend's contracts
(tests/test_boundaries.py)."""
