"""Custom actions of the assistant, one module per concern (rasa_sdk imports them all)."""
