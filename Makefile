# The two commands of the README: `make demo` and `make test`. Both start from a fresh machine
# (Debian 12, Python 3.11, root): they install the Debian packages, a virtualenv and the project.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES := softhsm2 postgresql nginx chromium fonts-ipafont openssl curl poppler-utils
STAMP := var/.stamps

.PHONY: demo test install system-packages lint typecheck unit clean messages

demo: install
	$(BIN)/cjs -c development.ini demo

test: install lint typecheck
	$(BIN)/python -m pytest -n $${PYTEST_WORKERS:-auto} --dist loadgroup -p no:cacheprovider --durations=30

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

install: $(STAMP)/system $(STAMP)/venv $(STAMP)/locale

$(STAMP)/system:
	@mkdir -p $(STAMP)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

$(STAMP)/venv: pyproject.toml examples/cjs_example_module/pyproject.toml
	@mkdir -p $(STAMP)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	# The fifth module of the plugin guide, outside the core tree: the tests drive it.
	$(BIN)/pip install -q --no-deps -e examples/cjs_example_module
	@touch $@

# The translation catalogues (SPEC 8): each .po compiled into the .mo the app reads (.mo not in git).
MO_FILES := $(patsubst %.po,%.mo,$(wildcard core/locale/*/LC_MESSAGES/cjs.po))

$(STAMP)/locale: $(MO_FILES)
	@touch $@

core/locale/%/LC_MESSAGES/cjs.mo: core/locale/%/LC_MESSAGES/cjs.po $(STAMP)/venv
	$(BIN)/pybabel compile --statistics -l $* -i $< -o $@

# After changing texts of the customer screens: extract them (babel.cfg) and merge them into each
# catalogue; then write the English of the new entries (tests/unit/test_translations.py checks it).
messages: $(STAMP)/venv
	@mkdir -p var
	$(BIN)/pybabel extract -F babel.cfg --no-wrap --sort-by-file --add-location=file --project=cjs -o var/cjs.pot .
	$(BIN)/pybabel update -i var/cjs.pot -d core/locale -D cjs --no-wrap --ignore-obsolete

clean:
	rm -rf $(VENV) var build *.egg-info
