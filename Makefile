# image-vault: everyday commands. `make` or `make help` lists them.
# Each target is one plain command you can also type yourself.

SHELL := /bin/bash
CARGO ?= cargo
# docker-compose (Debian's 1.29, as CI) or Compose v2: make compose-config COMPOSE="docker compose"
COMPOSE ?= docker-compose

.DEFAULT_GOAL := help
.PHONY: help run test lint fmt schema migrate bench bench-load compose-config \
        garage garage-test deny tools js-test ci

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN { FS = ":.*## " } { printf "  make %-15s %s\n", $$1, $$2 }'

run: ## serve on http://127.0.0.1:8080 (release build, fs storage, .env read)
	$(CARGO) run --release -- serve

test: ## unit + integration tests (needs PostgreSQL; see README "Tests")
	$(CARGO) test

lint: ## what CI checks: rustfmt and clippy with warnings as errors
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

fmt: ## format the code
	$(CARGO) fmt

schema: ## regenerate schema.graphql from the code (a test compares them)
	$(CARGO) run --quiet -- print-schema > schema.graphql.tmp || { rm -f schema.graphql.tmp; exit 1; }
	mv schema.graphql.tmp schema.graphql

migrate: ## create the database if needed and apply the migrations (DATABASE_URL)
	$(CARGO) run --release -- migrate

bench: ## thumbnail kernel benchmarks (divan; makes target/bench-corpus on first use)
	$(CARGO) bench --bench thumbnail

bench-load: ## service benchmarks: pipeline, read path, memory, start-up (bench/load.sh)
	bash bench/load.sh

compose-config: ## validate docker-compose.yml (a placeholder JWT_SECRET unless you set one)
	JWT_SECRET="$${JWT_SECRET:-compose-config-placeholder-0123456789abcdef}" \
		$(COMPOSE) -f docker-compose.yml config -q
	@echo "docker-compose.yml is valid"

garage: ## build Garage once into ~/.cargo/bin (for garage-test; slow the first time)
	bash scripts/tools.sh garage

garage-test: ## the S3 integration tests against a local single-node Garage
	bash scripts/garage-test.sh

deny: ## cargo deny: licences, bans, sources (offline; see deny.toml)
	bash scripts/deny.sh

tools: ## build the pinned CI tools once (garage, cargo-deny)
	bash scripts/tools.sh garage cargo-deny

js-test: ## the JavaScript client suite (Apollo, graphql-ws, GraphiQL) against a real server
	$(CARGO) build --bin image-vault
	bash tests/js/run.sh

ci: ## everything CI runs
	bash .ci/run
