#!/usr/bin/env bash
# The S3 integration tests against Garage, a production S3 server, instead of
# the in-process s3s test server.
#
#   bash scripts/garage-test.sh                 # the modules that use S3
#   bash scripts/garage-test.sh upload::        # other test-name filters
#
# Builds Garage once (`cargo install garage`, pinned in scripts/tools.sh,
# kept in ~/.cargo/bin; `make garage`), then starts a single-node Garage in a
# temporary directory on free 127.0.0.1 ports with a generated config
# (replication_factor 1, random rpc_secret, S3 region "garage", path-style),
# lays out the cluster, imports a random key that may create buckets, creates
# a bucket, and runs `cargo test --test integration` with TEST_S3_* pointing
# at it (each test makes a bucket of its own: tests/integration/support/s3.rs).
# Garage is stopped and its directory removed on exit, whatever happened.
#
# Needs PostgreSQL as `cargo test` does (TEST_DATABASE_URL). Environment:
#   GARAGE_TEST_NO_BUILD=1  skip (exit 0, loudly) instead of building Garage
#                           when it is not installed
#   GARAGE_KEEP=1           keep the temporary directory (config, data, log)
# The exit code is the tests'.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"

say() { printf '[garage-test] %s\n' "$*" >&2; }
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

if ! tool_installed garage "$GARAGE_VERSION" garage; then
  if [[ "${GARAGE_TEST_NO_BUILD:-}" == 1 ]]; then
    say "**************************************************************"
    say "SKIPPED: Garage $GARAGE_VERSION is not installed, and"
    say "GARAGE_TEST_NO_BUILD=1 says not to build it here."
    say "Build it once with 'make garage' (bash scripts/tools.sh garage)."
    say "**************************************************************"
    exit 0
  fi
  ensure_garage
fi
garage_bin="$CARGO_BIN/garage"

# Free TCP port on 127.0.0.1: nothing answers there. (Garage binds it a moment
# later; a clash makes it fail to start, which is reported below.)
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  say "no free port found"
  return 1
}

work="$(mktemp -d "${TMPDIR:-/tmp}/image-vault-garage.XXXXXX")"
chmod 700 "$work"
garage_pid=""
test_pid=""
# shellcheck disable=SC2317 # called by the traps below
cleanup() {
  local rc=$?
  if [[ -n "$test_pid" ]] && kill -0 "$test_pid" 2>/dev/null; then
    pkill -TERM -P "$test_pid" 2>/dev/null || true # the test binary under cargo
    kill -TERM "$test_pid" 2>/dev/null || true
    wait "$test_pid" 2>/dev/null || true
  fi
  if [[ -n "$garage_pid" ]] && kill -0 "$garage_pid" 2>/dev/null; then
    kill -TERM "$garage_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$garage_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$garage_pid" 2>/dev/null || true
    wait "$garage_pid" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -f "$work/garage.log" ]]; then
    say "last lines of the Garage log ($work/garage.log):"
    tail -n 30 "$work/garage.log" >&2 || true
  fi
  if [[ "${GARAGE_KEEP:-}" == 1 ]]; then
    say "kept $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rpc_port="$(free_port)"
s3_port="$(free_port)"
while [[ "$s3_port" == "$rpc_port" ]]; do s3_port="$(free_port)"; done
region=garage
config="$work/garage.toml"
cat >"$config" <<EOF
metadata_dir = "$work/meta"
data_dir = "$work/data"
db_engine = "lmdb"
replication_factor = 1

rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(hex 32)"

[s3_api]
s3_region = "$region"
api_bind_addr = "127.0.0.1:$s3_port"
EOF
export GARAGE_CONFIG_FILE="$config"

say "$("$garage_bin" --version 2>&1 | head -n 1); S3 on 127.0.0.1:$s3_port, RPC on :$rpc_port, in $work"
"$garage_bin" server >"$work/garage.log" 2>&1 &
garage_pid=$!

# Up when the CLI can reach it over RPC.
for i in $(seq 1 60); do
  if "$garage_bin" status >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$garage_pid" 2>/dev/null; then
    say "garage server exited during start-up"
    exit 1
  fi
  if [[ $i -eq 60 ]]; then
    say "garage did not answer within 30 s"
    exit 1
  fi
  sleep 0.5
done

# Single-node layout: this node holds every partition.
node_id="$("$garage_bin" node id -q 2>/dev/null)"
node_id="${node_id%%@*}"
"$garage_bin" layout assign -z local -c 1G "$node_id" >/dev/null
"$garage_bin" layout apply --version 1 >/dev/null

# A random key (Garage's own GK + 24 hex format), allowed to create buckets:
# each test creates and deletes a bucket of its own.
key_name=image-vault-test
key_id="GK$(hex 12)"
secret="$(hex 32)"
"$garage_bin" key import --yes -n "$key_name" "$key_id" "$secret" >/dev/null
"$garage_bin" key allow --create-bucket "$key_name" >/dev/null
bucket=image-vault-test
"$garage_bin" bucket create "$bucket" >/dev/null
"$garage_bin" bucket allow --read --write --owner "$bucket" --key "$key_name" >/dev/null

# The S3 endpoint answers (403 without credentials) once the layout is live.
for i in $(seq 1 60); do
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s3_port/" || true)"
  [[ "$code" =~ ^[2-4][0-9][0-9]$ ]] && break
  if [[ $i -eq 60 ]]; then
    say "the S3 API did not answer within 30 s (last HTTP code: $code)"
    exit 1
  fi
  sleep 0.5
done
say "cluster ready: key $key_id, bucket $bucket"

export TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
export TEST_S3_REGION="$region"
export TEST_S3_ACCESS_KEY_ID="$key_id"
export TEST_S3_SECRET_ACCESS_KEY="$secret"
export TEST_S3_BUCKET="$bucket"

# Default filters: every top-level integration module (file or directory)
# that starts an S3 server or runs on the S3 backend.
if [[ $# -eq 0 ]]; then
  filters=()
  while IFS= read -r module; do
    [[ "$module" == support || "$module" == main ]] || filters+=("$module::")
  done < <(grep -rlE --include='*.rs' 'start_s3_server|Backend::S3' tests/integration |
    sed -E 's|^tests/integration/||; s|/.*$||; s|\.rs$||' | sort -u)
  [[ ${#filters[@]} -gt 0 ]] || { say "no test module uses S3"; exit 1; }
  set -- "${filters[@]}"
fi
say "cargo test --test integration -- $*"
# In the background so that a TERM/INT to this script runs the cleanup at
# once (bash defers traps while a foreground command runs).
set +e
cargo test --locked --test integration -- "$@" &
test_pid=$!
wait "$test_pid"
rc=$?
test_pid=""
set -e
say "tests exited $rc; $SECONDS s in all"
exit "$rc"
