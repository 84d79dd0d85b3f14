# 星辰科技 after-sales assistant. `make` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Rasa 3.6 needs Python 3.10: take the first interpreter that really is 3.10.
PY310 := $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt constraints.txt
	@test -n "$(PY310)" || { echo "Python 3.10 is required (Rasa 3.6); install python3.10" >&2; exit 1; }
	test -x $(PY) || $(PY310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.3.1" "wheel==0.45.1"
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PY) -m pip check
	touch $(STAMP)

install: $(STAMP) ## create the Python 3.10 virtual environment and install pinned dependencies

db: install ## migrate the schema and load the demo data into an empty database
	$(PY) -m bot seed --migrate --if-empty

nlu-data: db ## write the NLU's user dictionary and lookup tables from the catalogue
	$(PY) -m bot nlu-data

train: nlu-data ## train the Rasa model (skipped when nothing changed)
	$(BIN)/rasa train --config config.yml --domain domain.yml --data data --out models

validate: nlu-data ## check the training data and domain for inconsistencies
	scripts/validate.sh

# Random secrets for the embedded mode, made once and kept in var/secrets.env, one NAME=value
# line each; a name added to this list is appended on the next run, existing values stay. A
# value set in .env or the environment wins. Scale-out sets them in the environment.
SECRETS := var/secrets.env
SECRET_NAMES := CHAT_SECRET RASA_TOKEN ACTIONS_TOKEN BOT_API_TOKEN REST_CHANNEL_TOKEN
secrets: ## make the missing secrets of var/secrets.env (web chat, Rasa API, action server)
	@mkdir -p var
	@umask 077; test -s $(SECRETS) || echo "# made by make run; set your own in .env" > $(SECRETS)
	@for name in $(SECRET_NAMES); do \
	  grep -q "^$$name=" $(SECRETS) || \
	    echo "$$name=$$($(PY310) -c 'import secrets; print(secrets.token_hex(32))')" >> $(SECRETS); \
	done

run: train secrets ## start every part of the system on embedded defaults (loopback only)
	@echo "Assistant (REST): POST http://$${RASA_HOST:-127.0.0.1}:5005/webhooks/rest/webhook  {\"sender\": \"me\", \"message\": \"你好\"}"
	@echo "Backend API:      http://$${BOT_HOST:-127.0.0.1}:$${BOT_PORT:-8000}/api/health  (OpenAPI: /api/openapi.json)"
	@echo "Action server:    http://$${ACTIONS_HOST:-127.0.0.1}:5055/health  (Rasa only: Bearer ACTIONS_TOKEN)"
	@echo "Web chat page:    http://$${BOT_HOST:-127.0.0.1}:$${BOT_PORT:-8000}/  (embed: <script src=\".../chat/widget.js\" async></script>)"
	@echo "Support desk:     http://$${BOT_HOST:-127.0.0.1}:$${BOT_PORT:-8000}/desk/  (accounts: $(PY) -m bot desk-user NAME --name 张敏 --role agent|supervisor)"
	@echo "A process that dies is restarted (at most 5 times a minute); Ctrl-C stops everything."
	# The Procfile names python: the one of this virtual environment. scripts/supervise.py is
	# honcho's Procfile and output plus restarts and an orderly stop (README, "Faults").
	PATH="$(abspath $(BIN)):$$PATH" exec $(PY) scripts/supervise.py -f Procfile -e $(SECRETS),.env

shell: train secrets ## chat with the assistant in this terminal (starts the backend and actions too)
	@$(BIN)/honcho run -e $(SECRETS),.env scripts/with-services.sh $(BIN)/rasa shell --model models --endpoints endpoints.yml

set-webhook: install ## Telegram webhook mode: register TELEGRAM_WEBHOOK_URL and the secret (.env)
	$(BIN)/honcho run -e .env $(PY) scripts/telegram_cli.py set-webhook

telegram-poll: install ## Telegram without a public URL: long-poll and forward to the running Rasa
	$(BIN)/honcho run -e .env $(PY) scripts/telegram_cli.py poll

browser: ## Debian's Chromium and CJK fonts for the browser tests (apt; quick when present)
	scripts/install-browser.sh

test: train browser ## run every test (set TEST_POSTGRES_URL to repeat the backend tests on PostgreSQL)
	scripts/validate.sh
	$(BIN)/pytest -q

test-fast: install ## the tests that need no trained model, no running system and no browser
	$(BIN)/pytest -q -m "not slow"

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy bot actions nlu connectors rasa_ext tests scripts

bench-nlu: nlu-data ## NLU benchmark on ../shared/benchmarks/nlu and training time of the full model
	$(PY) scripts/bench_nlu.py

bench-api: install ## p50/p95 latency of a warranty verdict and a booking through the HTTP API
	$(PY) scripts/bench_api.py

bench-rest: train ## p50/p95 of one REST turn that calls custom actions, whole system running
	$(PY) scripts/bench_rest.py

bench-desk: train ## p50/p95 delivery customer → desk and agent → customer over 100 messages
	$(PY) scripts/bench_desk.py

bench-load: train ## turns/s and p50/p95/p99 at 1, 16 and 64 customers at once, memory of each process
	$(PY) scripts/bench_load.py

bench-insight: install ## early warning on simulated faults: false alarms per month, detection delays
	$(PY) scripts/bench_insight.py

bench-reports: install ## reports on PostgreSQL: 10^5 orders generated in SQL, rebuild, chart p95 over 90 days (ARGS="--orders 1000000 --events 10000000")
	$(PY) scripts/bench_reports.py $(ARGS)
bench-faults: train ## kill -9 each process under load (ARGS=--scale-out: also restart PostgreSQL, Redis, RabbitMQ)
	$(PY) scripts/bench_faults.py $(ARGS)

bench-customers: train ## completion rate per journey of tests/customers' conversations, whole system running
	$(PY) scripts/replay_customers.py --start-stack

clean: ## remove the embedded databases and trained models (keeps the virtual environment)
	rm -rf var models results

.PHONY: help install db nlu-data train validate secrets browser run shell set-webhook telegram-poll test test-fast lint bench-nlu bench-api bench-rest bench-desk bench-load bench-faults bench-insight bench-reports bench-customers clean
