#!/usr/bin/env bash
# bench/load.sh against Garage (a production S3 server) instead of the
# in-process s3s-fs test server, whose per-request costs (tokio::fs for every
# file operation, 4 KiB read chunks) are not a real store's.
#
#   bench/load-garage.sh pipeline [options]     # any bench/load.sh arguments
#
# Needs `garage` on PATH or in ~/.cargo/bin (`make garage`, or
# `cargo install garage --locked`). Starts a single-node Garage in a
# temporary directory on free 127.0.0.1 ports (no compression, no fsync: Garage's defaults but for compression),
# creates a key and a bucket, runs the driver with BENCH_S3_* (and
# BENCH_S3_PID, so its CPU time is reported), and removes it all on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
garage=$(command -v garage || echo "$HOME/.cargo/bin/garage")
[[ -x "$garage" ]] || { echo "garage is not installed (make garage)" >&2; exit 1; }

hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d "${TMPDIR:-/tmp}/iv-bench-garage.XXXXXX")
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

rpc=$(port); s3=$(port)
export GARAGE_CONFIG_FILE="$work/garage.toml"
cat >"$GARAGE_CONFIG_FILE" <<CONF
metadata_dir = "$work/meta"
data_dir = "$work/data"
db_engine = "lmdb"
replication_factor = 1
# Stored as sent, like MinIO's default (Garage would zstd every block).
compression_level = "none"
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(hex 32)"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
CONF
"$garage" server >"$work/garage.log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do "$garage" status >/dev/null 2>&1 && break; sleep 0.5; done
node=$("$garage" node id -q 2>/dev/null); node=${node%%@*}
"$garage" layout assign -z local -c 10G "$node" >/dev/null
"$garage" layout apply --version 1 >/dev/null
key_id="GK$(hex 12)"; secret=$(hex 32)
"$garage" key import --yes -n bench "$key_id" "$secret" >/dev/null
"$garage" bucket create image-vault-bench >/dev/null
"$garage" bucket allow --read --write --owner image-vault-bench --key bench >/dev/null
for _ in $(seq 1 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s3/" || true)
  [[ "$code" =~ ^[2-4][0-9][0-9]$ ]] && break
  sleep 0.5
done
echo "==> $("$garage" --version | head -n1) on 127.0.0.1:$s3 (pid $pid)" >&2

args=("$@")
# The pipeline runs on fs storage unless told otherwise.
if [[ "${1:-}" == pipeline ]]; then args+=(--storage s3); fi
BENCH_S3_ENDPOINT="http://127.0.0.1:$s3" BENCH_S3_REGION=garage BENCH_S3_BUCKET=image-vault-bench \
BENCH_S3_ACCESS_KEY_ID="$key_id" BENCH_S3_SECRET_ACCESS_KEY="$secret" BENCH_S3_PID="$pid" \
  bench/load.sh "${args[@]}"
