#!/usr/bin/env bash
# Licences, bans and sources of the dependency tree (deny.toml), offline.
#
#   bash scripts/deny.sh            # what CI runs
#   bash scripts/deny.sh advisories # anything else is passed to `cargo deny check`
#
# Duplicate versions are warnings, listed without their inclusion graphs
# (`cargo deny check bans` shows those). Installs cargo-deny once (pinned in
# scripts/tools.sh, kept in ~/.cargo/bin).
# `advisories` is not part of the default: it downloads the RustSec database,
# and CI has no network beyond the package registries.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"

ensure_cargo_deny
if [[ $# -eq 0 ]]; then
  # The manifests of every locked crate, those of other platforms included
  # (a build downloads only the host's); from crates.io, a no-op when cached.
  cargo fetch --locked --quiet || tools_log "cargo fetch failed; checking with what is cached"
  exec cargo deny --offline --locked check --hide-inclusion-graph --show-stats licenses bans sources
fi
exec cargo deny --locked check "$@"
