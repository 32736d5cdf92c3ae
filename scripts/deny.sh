#!/usr/bin/env bash
# Licences, bans and sources of the dependency tree (deny.toml), offline.
#
#   bash scripts/deny.sh            # what CI runs
#   bash scripts/deny.sh advisories # anything else is passed to `cargo deny check`
#
# Installs cargo-deny once (pinned in scripts/tools.sh, kept in ~/.cargo/bin).
# `advisories` is not part of the default: it downloads the RustSec database,
# and CI has no network beyond the package registries.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"

ensure_cargo_deny
if [[ $# -eq 0 ]]; then
  exec cargo deny --offline --locked check licenses bans sources
fi
exec cargo deny --locked check "$@"
