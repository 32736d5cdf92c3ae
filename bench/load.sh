#!/usr/bin/env bash
# Service benchmarks: pipeline throughput, read path, memory, start-up (see
# BENCHMARKS.md). Runs the release `image-vault` against the machine's
# Postgres (BENCH_DATABASE_SERVER, default postgres://postgres@127.0.0.1:5432)
# and an s3s-fs S3 server inside the driver; no other services needed.
# bench/load-garage.sh runs the same against a throw-away Garage.
#
# Usage: bench/load.sh [pipeline|read|memory|startup|all] [options]
#        bench/load.sh read --help
# Output also goes to target/bench-load/<scenario>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-all}
shift || true
mkdir -p target/bench-load
# LOAD_BIN: an already built driver (target/release/deps/load-*), e.g. to
# time several server binaries (IV_BIN) without rebuilding it.
if [[ -n "${LOAD_BIN:-}" ]]; then
  "$LOAD_BIN" "$scenario" "$@" 2>&1 | tee "target/bench-load/$scenario.txt"
  exit "${PIPESTATUS[0]}"
fi
cargo bench --bench load --no-run
cargo bench --bench load -- "$scenario" "$@" 2>&1 | tee "target/bench-load/$scenario.txt"
