# Two commands for a newcomer: `make run` and `make test`. Both bootstrap .venv from the lock.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint migrate seed lock messages clean-data bench system-deps

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	@touch $@

migrate: $(STAMP)
	$(PY) manage.py migrate_schemas --shared -v 0
	$(PY) manage.py migrate_schemas --tenant -v 0

seed: migrate
	$(PY) manage.py seed_demo

# Seeds the demo, then serves it with a Celery worker and beat; Ctrl-C stops all three.
run: seed
	PYTHONPATH=platform $(PY) -m carefront.devrun

# Debian packages that the browser tests (tests/browser, Playwright driving Debian's chromium)
# and the PDF-reading tests need. Installed only when missing, and only as root with apt-get
# (as in CI); anywhere else those tests are skipped with a message saying why.
SYSTEM_PACKAGES := chromium poppler-utils poppler-data zbar-tools fonts-noto-cjk

system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		missing=""; \
		for package in $(SYSTEM_PACKAGES); do \
			dpkg -s $$package 2>/dev/null | grep -q '^Status: install ok installed' \
				|| missing="$$missing $$package"; \
		done; \
		if [ -n "$$missing" ]; then \
			echo "Installing Debian packages:$$missing"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install \
				-y -qq --no-install-recommends $$missing; } \
			|| echo "*** Could not install$$missing: browser and PDF-reading tests will be skipped (fail under CI)."; \
		fi; \
	else \
		echo "*** Not root with apt-get: browser and PDF-reading tests will be skipped" \
			"(they need the Debian packages $(SYSTEM_PACKAGES))."; \
	fi

test: system-deps $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(STAMP)
	$(PY) tests/bench/middleware.py

# Regenerate the lock after changing pyproject.toml (needs network to PyPI).
lock: $(STAMP)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes \
		--python-version 3.11 -o requirements.lock

# Re-extract and compile translations (needs GNU gettext; the compiled .mo files are committed).
messages: $(STAMP)
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var
	$(PY) manage.py compilemessages -l zh_Hans --ignore=.venv

clean-data:
	rm -rf var
