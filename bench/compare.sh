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

# IMAGE_VAULT_BIN=path skips the build and times that binary instead; the
# corpus is then kept if it is there.
bin=${IMAGE_VAULT_BIN:-target/release/image-vault}
if [ -z "${IMAGE_VAULT_BIN:-}" ]; then
  log "release build (cargo build --release --bin image-vault --bin bench-corpus)"
  cargo build --release --bin image-vault --bin bench-corpus
  log "corpus (target/release/bench-corpus target/bench-corpus)"
  target/release/bench-corpus target/bench-corpus >/dev/null
elif [ ! -f target/bench-corpus/VERSION ]; then
  echo "no corpus in target/bench-corpus: run without IMAGE_VAULT_BIN once" >&2
  exit 1
fi

log "versions"
{
  echo "image-vault $bin $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty')"
  vipsthumbnail --vips-version 2>/dev/null || vips --version
  "$venv/bin/python" -c 'import PIL, pyvips; from PIL import features; print("Pillow", PIL.__version__, "libjpeg-turbo", features.version("libjpeg_turbo")); print("pyvips", pyvips.__version__)'
  echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo)"
} | tee target/bench-versions.txt >&2

"$venv/bin/python" bench/compare.py \
  --ours "$bin" \
  --corpus target/bench-corpus \
  --work target/bench-out \
  --json target/bench-results.json \
  "$@"
