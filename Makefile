# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint format bench screenshots

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The site on SQLite at http://127.0.0.1:8000/, in development mode, with a
# demo account whose fresh password is printed.
run: install
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=1 $(PY) manage.py demo_user
	DJANGO_DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

# The test suite. Set DATABASE_URL/REDIS_URL to run it on PostgreSQL + Redis.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The browser stories again, saving docs/screenshots/*.png (commit them when the pages change).
screenshots: install
	TOKENS_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest tests/browser -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The benchmark (needs wrk: apt-get install wrk). See bench/README.md.
bench: install
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/run.py
