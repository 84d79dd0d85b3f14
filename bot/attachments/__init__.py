"""Photos and files in a conversation: `files` checks and keeps the bytes, `records` the rows
and the answer that serves one, `routes` who may send and open which."""
