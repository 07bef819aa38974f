# mobiledeploy: `make install` sets up everything on a fresh machine, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: install system-deps board-deps test test-board test-fast test-faults export bench android clean

install: system-deps $(VENV)/.installed

# System packages the tests use (OpenSSH server and client, adb, Chromium and its WebDriver, PostgreSQL's server for
# the team store's tests (tests/pg.py starts its own in a temporary folder; Debian's package also starts a
# system cluster, which the tests do not use), iproute2 (the lab's workers in network namespaces); for the Android
# demo's APK:
# JDK 17, Maven, aapt/aapt2, zipalign, apksigner, API 29 framework-res, zip). Installed when root with apt;
# otherwise the tests that need them skip with the reason.
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; \
	  for p in openssh-server openssh-client adb chromium chromium-driver postgresql iproute2 \
	    openjdk-17-jdk-headless maven aapt zipalign apksigner android-framework-res zip unzip; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "apt-get install$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	else echo "not root or no apt-get: skipping system packages (openssh-server, adb)"; fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

test: install
	$(PY) -m pytest -q -rs -m "not board"

# The board tier: an arm64 Debian root under qemu-user with its own sshd in a network namespace
# (tests/board.py). Needs root, binfmt_misc and network namespaces; skips with the reason otherwise.
board-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; \
	  for p in qemu-user-static mmdebstrap; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "apt-get install$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	fi

test-board: install board-deps
	$(PY) -m pytest -q -rs -s -m board tests/test_board.py

# The quick tier: no exports, no ../shared/data, no fault suite (make test-faults runs that).
test-fast: install
	$(PY) -m pytest -q -m "not slow and not board and not data and not faults"

# The fault suite alone: bad input, hostile files, signals, remote faults.
test-faults: install
	$(PY) -m pytest -q -rs -m "faults and not board"

# The Android demo's signed APK from the artifacts in models/ (android_demo/build.sh; Maven Central artifacts
# are cached in ~/.m2). `make test` builds and checks one from fresh exports (tests/test_android_apk.py).
android: system-deps
	bash android_demo/build.sh

# The main job on its built-in default.
export: install
	$(VENV)/bin/mobiledeploy export --alpha 0.5 --res 128 --int8

bench: install
	$(PY) benchmarks/export_time.py
	$(PY) benchmarks/tflite_latency.py
	$(PY) benchmarks/runner_overhead.py
	$(PY) benchmarks/ssh_vs_local.py
	$(PY) benchmarks/sweep_time.py
	$(PY) benchmarks/predictor_error.py
	$(PY) benchmarks/quant_latency.py
	$(PY) benchmarks/decision_stability.py

clean:
	rm -rf $(VENV) models/mobilenet_v1_* .pytest_cache
