"""Custom actions of the assistant, one module per concern (rasa_sdk imports them all).

`common` holds what they share (the backend client, the bases and their error policy, texts
from the domain), `conversation` what the tracker says about the conversation so far;
`workorders` is a package with one module per form.
"""
