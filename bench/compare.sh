#!/usr/bin/env bash
# Thumbnail kernel vs libvips and Pillow, one thread each, same corpus, same
# run; see BENCHMARKS.md. Usage: bench/compare.sh [--rounds N] [--core C]
#
# Installs the peers (Debian: libvips-tools; PyPI into target/bench-venv:
# Pillow, pyvips, numpy), builds the corpus into target/bench-corpus and the
# release binary, then runs bench/compare.py. Outputs go to
# target/bench-out/<tool>/, figures to target/bench-out/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

if ! command -v vipsthumbnail >/dev/null 2>&1; then
  log "installing libvips-tools (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvips-tools >/dev/null
fi

venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import PIL, pyvips, numpy' 2>/dev/null; then
  log "installing Pillow, pyvips, numpy (pip, into $venv)"
  "$venv/bin/pip" install -q Pillow pyvips numpy
fi

log "corpus (cargo bench --bench make_corpus)"
cargo bench --bench make_corpus >/dev/null

log "release binary (cargo build --release --bin image-vault)"
cargo build --release --bin image-vault

log "versions"
{
  echo "image-vault $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty')"
  vipsthumbnail --vips-version 2>/dev/null || vips --version
  "$venv/bin/python" -c 'import PIL, pyvips; from PIL import features; print("Pillow", PIL.__version__, "libjpeg-turbo", features.version("libjpeg_turbo")); print("pyvips", pyvips.__version__)'
  echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo)"
} | tee target/bench-versions.txt >&2

"$venv/bin/python" bench/compare.py \
  --ours target/release/image-vault \
  --corpus target/bench-corpus \
  --work target/bench-out \
  --json target/bench-results.json \
  "$@"
