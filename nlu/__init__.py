"""Custom components of the Rasa NLU pipeline (referenced from config.yml)."""
