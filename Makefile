# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# django-stubs' plugin loads the site's settings, which in production mode
# refuse to start without secrets: throwaway ones, never written anywhere.
MYPY := AUTHPROJECT_THROWAWAY_SECRETS=1 $(VENV)/bin/mypy tokens_app

.PHONY: install install-site run test lint format bench screenshots dist adoption

# Everything: the site's requirements plus test, lint, browser and packaging tools.
install: $(VENV)/.installed

# Only what running the site needs (`make run`): no test or browser tooling.
install-site: $(VENV)/.installed-site

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-site: requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed: $(VENV)/.installed-site requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The site on SQLite at http://127.0.0.1:8000/, in development mode, with a
# demo account whose fresh password is printed.
run: install-site
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
	$(MYPY)

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The distribution: dist/*.tar.gz and dist/*.whl, checked by twine.
dist: install
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(VENV)/bin/twine check --strict dist/*

# The adoption test: the wheel installed into three fresh `startproject` sites (docs/install.md).
adoption: install
	$(PY) tests/adoption/run.py

# The benchmark (needs wrk: apt-get install wrk). See bench/README.md.
bench: install
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) -m bench.run $(BENCH_ARGS)
