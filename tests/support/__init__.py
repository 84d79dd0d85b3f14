"""What the tests share and nothing else: plain helpers, no tests and no fixtures.

Fixtures stay in the conftest.py files and are built from these; test modules import from here,
never from another test module or a conftest. The scripts/bench_*.py benchmarks use the same
harness.

- api.py: requests to the backend's HTTP API through the aiohttp test client, status checked.
- database.py: the frozen test time, the demo data of the template database, PostgreSQL admin.
- trackers.py: Rasa trackers for the action tests, and the response names a dispatcher got.
- stack.py: the whole system in separate processes (backend, action server, Rasa with the
  latest trained model), as `make run` starts it.
- rest.py: a customer on the REST channel; one turn's replies, intent, actions and slots.
- chat.py: the web chat secret of the stack and tokens made with it.
- desk.py: a support-desk user (login cookie, CSRF header, websocket) and desk accounts.
- webchat_customer.py: a web-chat customer's socket, and the benchmarks' latency table.
- outbox.py: orders moved along and the outbox worker driven on a moving clock.
- fake_telegram.py: a fake Telegram Bot API server on loopback.
- telegram_updates.py: updates as Telegram sends them, delivered to the stack's webhook.
"""
