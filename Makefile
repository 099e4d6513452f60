# CastCore developer and operator commands. `make run` and `make test` work on a
# fresh machine with python3 (3.11+), node/npm and ffmpeg installed.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PORT    ?= 8000
HOST    ?= 127.0.0.1
PYTEST_ARGS ?=
# Parallel test processes (pytest-xdist; 0 runs the suite in this one process). Most of
# the suite waits on real processes (publishing, grace periods, workers starting), so
# more processes than cores pays; docs/DEVELOPING.md says what each one gets of its own.
TEST_WORKERS ?= 4

.PHONY: install run test lint format worker beat migrate superuser clean

# The stamp is rebuilt whenever a requirements or npm lock file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt package.json package-lock.json
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

# Embedded mode unless DATABASE_URL/REDIS_URL are set. DEBUG defaults to true
# here so plain http://localhost works; production runs with DEBUG unset (off).
run: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-true} $(PY) -m castcore.serve -b $(HOST) -p $(PORT) castcore.asgi:application

test: install
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy castcore apps workers

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Distributed mode: separate worker and beat processes (DATABASE_URL and REDIS_URL set).
# Threads: an FFmpeg supervisor is mostly waiting on pipes, and a thread pool
# keeps ffmpeg's process group tied to the worker process (PDEATHSIG).
WORKER_CONCURRENCY ?= 8
worker: install
	$(VENV)/bin/celery -A castcore worker -Q default,ffmpeg,scans --pool=threads \
		--concurrency=$(WORKER_CONCURRENCY) --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A castcore beat --loglevel=INFO

superuser: migrate
	$(PY) manage.py createsuperuser

clean:
	rm -rf $(VENV) node_modules
