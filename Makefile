# Leakguard: the two commands of the README, and their helpers.
#
#   make run    where a display exists: build and open the desktop app (it connects to the
#               guard's service, or starts the guard itself); otherwise build and start the
#               headless guard, the local proxy on 127.0.0.1:8480
#               (`make run ARGS="--policy my.json"` passes options to `leakguard run`)
#   make scan   `leakguard scan` on a sample leaky prompt
#   make test   everything CI runs: format check, clippy, every test
#
# Both install what they need through scripts/setup.sh first.

CARGO ?= cargo
ARGS ?=

.PHONY: run scan test setup bench lint cross-check fmt install clean

run: setup
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  echo "make run: a display is available: starting the desktop app"; \
	  npm run tauri -- build --no-bundle && ./target/release/leakguard-desktop; \
	else \
	  echo "make run: no display: starting the headless guard (leakguard run)"; \
	  $(CARGO) build --release -p leakguard && ./target/release/leakguard run $(ARGS); \
	fi

scan: setup
	$(CARGO) build --release -p leakguard
	@./target/release/leakguard scan examples/leaky-prompt.txt; code=$$?; \
	  if [ $$code -le 1 ]; then echo "(exit $$code: 0 = nothing found, 1 = findings)"; else exit $$code; fi

test: setup
	./scripts/test.sh

setup:
	./scripts/setup.sh

bench: setup
	./scripts/bench.sh

lint:
	npm run lint
	npm run check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The macOS and Windows code compiled for its targets (part of `make test`).
cross-check: setup
	./scripts/cross-check.sh

fmt:
	$(CARGO) fmt --all

install: setup
	$(CARGO) install --locked --path crates/cli

clean:
	$(CARGO) clean
