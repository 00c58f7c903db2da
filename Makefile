# Leakguard: the two commands of the README, and their helpers.
#
#   make run    build and start the guard (today: the scanner, on a sample prompt;
#               `make run ARGS="scan path/to/file"` for anything else)
#   make test   everything CI runs: format check, clippy, every test
#
# Both install what they need through scripts/setup.sh first.

CARGO ?= cargo
ARGS ?= scan examples/leaky-prompt.txt

.PHONY: run test setup bench lint fmt install clean

run: setup
	$(CARGO) build --release -p leakguard
	@echo "== leakguard $(ARGS)"
	@./target/release/leakguard $(ARGS); code=$$?; \
	  if [ $$code -le 1 ]; then echo "(exit $$code: 0 = nothing found, 1 = findings)"; else exit $$code; fi

test: setup
	./scripts/test.sh

setup:
	./scripts/setup.sh

bench: setup
	./scripts/bench.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

install: setup
	$(CARGO) install --locked --path crates/cli

clean:
	$(CARGO) clean
