# shellcheck shell=bash
# Pinned versions of the tools that CI builds with `cargo install`, and the
# helper that installs them once. Sourced by scripts/garage-test.sh and
# scripts/deny.sh; `bash scripts/tools.sh [garage|cargo-deny]...` installs.
#
# The binaries go to cargo's usual place (${CARGO_HOME:-~/.cargo}/bin), outside
# the repository, so they outlive a clone: CI runs on the same machine as
# development, and a tool that is already there at the pinned version is not
# built again. The build directory is kept under ~/.cache/image-vault-tools
# until the install succeeds, so an interrupted build resumes where it stopped.

# Garage is AGPL-3.0: a test tool we only run, never link or ship, so it is
# not part of the tree that deny.toml checks.
GARAGE_VERSION=2.5.0
# lmdb only (Garage's default db engine): no sqlite, metrics or k2v to
# compile. The S3 API is the same.
GARAGE_FEATURES=bundled-libs,lmdb
CARGO_DENY_VERSION=0.20.2

TOOLS_CACHE="${IMAGE_VAULT_TOOLS_CACHE:-$HOME/.cache/image-vault-tools}"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

tools_log() { printf '[tools] %s\n' "$*" >&2; }

# tool_installed CRATE VERSION BIN: whether cargo installed CRATE at exactly
# VERSION and its binary BIN is still there (offline: reads cargo's records).
tool_installed() {
  [[ -x "$CARGO_BIN/$3" ]] &&
    cargo install --list 2>/dev/null | grep -qx "$1 v$2:"
}

# ensure_cargo_tool CRATE VERSION BIN [cargo install args...]
ensure_cargo_tool() {
  local crate=$1 version=$2 bin=$3
  shift 3
  if tool_installed "$crate" "$version" "$bin"; then
    return 0
  fi
  local target="$TOOLS_CACHE/$crate-target" start=$SECONDS
  mkdir -p "$TOOLS_CACHE"
  tools_log "building $crate $version with cargo install (once per machine; kept in $CARGO_BIN)"
  cargo install "$crate" --version "=$version" --locked --target-dir "$target" "$@" >&2
  rm -rf "$target"
  tools_log "$crate $version built in $((SECONDS - start)) s"
}

ensure_garage() {
  ensure_cargo_tool garage "$GARAGE_VERSION" garage \
    --no-default-features --features "$GARAGE_FEATURES"
}

ensure_cargo_deny() {
  ensure_cargo_tool cargo-deny "$CARGO_DENY_VERSION" cargo-deny
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  [[ $# -gt 0 ]] || set -- garage cargo-deny
  for tool in "$@"; do
    case "$tool" in
      garage) ensure_garage ;;
      cargo-deny) ensure_cargo_deny ;;
      *) tools_log "unknown tool: $tool (garage, cargo-deny)"; exit 2 ;;
    esac
    tools_log "$tool: $("$CARGO_BIN/$tool" --version 2>&1 | head -n 1)"
  done
fi
