#!/usr/bin/env bash
# The JavaScript client suite against a real image-vault server.
#
#   bash tests/js/run.sh            # after `cargo build` (or `cargo test`)
#   bash tests/js/run.sh test/console.test.js   # one suite
#
# Starts `image-vault serve` (IMAGE_VAULT_BIN, default target/debug/image-vault)
# on a free port with a fresh database and a temporary storage directory,
# creates a Premium user and an administrator, type-checks the web console's
# JavaScript (tsc --checkJs), runs `node --test` in tests/js, then stops the
# server and drops the database. Needs PostgreSQL (PGHOST/PGPORT, default
# 127.0.0.1:5432, role postgres without a password), Node.js 20+ with npm, and
# Debian's chromium (installed with apt-get when missing, as CI runs as root).
# The exit code is the tests'. The screenshots (playground, console pages at
# desktop and phone width) are kept under target/playwright/ (ARTIFACT_DIR).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${IMAGE_VAULT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/image-vault}"
[[ "$bin" = /* ]] || bin="$root/$bin"
pghost="${PGHOST:-127.0.0.1}"
pgport="${PGPORT:-5432}"
export ARTIFACT_DIR="${ARTIFACT_DIR:-$root/target/playwright}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

say() { printf '[tests/js] %s\n' "$*"; }

[[ -x "$bin" ]] || { say "no server binary at $bin (cargo build --bin image-vault)"; exit 1; }
command -v node >/dev/null || { say "node is missing"; exit 1; }

if [[ ! -x "$CHROMIUM" ]]; then
  say "installing Debian's chromium"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi

if [[ ! -d "$here/node_modules" || "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
  say "npm ci"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

say "tsc --checkJs (web console)"
"$here/node_modules/.bin/tsc" -p "$root/src/http/console"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
  || node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
db="image_vault_js_$(date +%s)_$$"
work="$(mktemp -d -t image-vault-js.XXXXXX)"
base="http://127.0.0.1:$port"
server_pid=""

cleanup() {
  local rc=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -s "$work/server.log" ]]; then
    say "server log (last 60 lines):"
    tail -n 60 "$work/server.log" | sed 's/^/    /'
  fi
  psql -h "$pghost" -p "$pgport" -U postgres -d postgres -qAt \
    -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || say "could not drop database $db"
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export DATABASE_URL="postgres://postgres@$pghost:$pgport/$db"
export BIND="127.0.0.1:$port"
export PUBLIC_URL="$base"
export JWT_SECRET="tests-js-only-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export STORAGE=fs
export STORAGE_DIR="$work/storage"
export WORKERS=2
# Small enough that the console suite can send a file over it (a direct
# upload) quickly; the other suites' files are far below it.
export MAX_UPLOAD_BYTES=$((4 << 20))
export RUST_LOG="${RUST_LOG:-info}"
unset LOG_FORMAT

say "server $bin on $base, database $db"
"$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then say "server exited"; exit 1; fi
  if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$base/healthz"; then
    ready=1
    break
  fi
  sleep 0.2
done
[[ -n "$ready" ]] || { say "server not healthy after 60 s"; exit 1; }

export USERNAME="js-client-$$"
export PASSWORD="js-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$PASSWORD" | "$bin" create-user --username "$USERNAME" --password-stdin --plan Premium >"$work/create-user.log" 2>&1 \
  || { say "create-user failed:"; cat "$work/create-user.log"; exit 1; }

export ADMIN_USERNAME="js-admin-$$"
export ADMIN_PASSWORD="js-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$ADMIN_PASSWORD" | "$bin" create-admin --username "$ADMIN_USERNAME" --password-stdin >"$work/create-admin.log" 2>&1 \
  || { say "create-admin failed:"; cat "$work/create-admin.log"; exit 1; }

export BASE_URL="$base"
mkdir -p "$ARTIFACT_DIR"
say "node --test"
cd "$here"
set +e
node --test --test-concurrency=1 --test-timeout=300000 "${@:-test/}"
rc=$?
set -e
exit $rc
