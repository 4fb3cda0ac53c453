# The targets CI runs are exactly these; `make test` is the README's test command.

CARGO ?= cargo

.PHONY: run test test-deps lint unit bench bench-e2e clean

## Run synthtel on its embedded default configuration.
run:
	$(CARGO) run --release -- run

## Everything CI runs: install test dependencies, lint, then every test.
test: test-deps lint unit

## Install what the tests need on a fresh Debian machine (idempotent).
test-deps:
	scripts/install-test-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	$(CARGO) test --all-targets

## Criterion benchmarks of generators and encoders.
bench:
	$(CARGO) bench

## End-to-end timing of `synthtel generate` and the daemon's idle memory and readiness.
bench-e2e:
	scripts/bench.sh

clean:
	$(CARGO) clean
