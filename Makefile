.PHONY: run test lint demo toolchains loadtest bench

run:  ## install into .venv and start the server with a ready client
	./scripts/quickstart

test:  ## lint, type-check and run the test suite
	./scripts/test

lint:
	.venv/bin/ruff check src tests && .venv/bin/ruff format --check src tests && .venv/bin/mypy

demo:
	.venv/bin/credgate demo

toolchains:  ## install the toolchains the example programs and OAuth library tests run with
	./scripts/client-toolchains

loadtest:  ## three minutes of load through a worker kill, a PostgreSQL restart and a Redis outage
	./scripts/loadtest

bench:  ## benchmark against a hello-world ceiling; writes BENCHMARKS.md (about 10 minutes)
	./scripts/bench
