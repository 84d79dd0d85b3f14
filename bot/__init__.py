"""The service backend (not the Rasa assistant): the system of record the assistant calls.

One aiohttp app (`bot.app.create_app`) with:
- the internal API under `/api/` for the action server and the backend's own pages, one module
  per concern (`warranty` with the pure 三包 engine `sanbao`, `authenticity`, `workorders`,
  `stations`, `catalogue`, `knowledge`, `complaints`, `handoffs`), built on the HTTP toolkit
  `bot.api`;
- the public web-chat page and its token issuer (`webchat`);
- the support desk for staff (`desk/`).

`contracts/` is what other processes may import; `client` is their typed client of the API.
Storage is `db` and `tables` (SQLite by default, PostgreSQL in scale-out, migrations in
`migrations/`); `demo`, `importer` and `migrate` are operator tools run by `python -m bot`.
"""
