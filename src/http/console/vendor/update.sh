#!/usr/bin/env bash
# Refreshes the web console's vendored libraries from the npm registry (npm
# pack: the tarballs npm itself verifies). Pin the versions here, run it, run
# the console suite (bash tests/js/run.sh), commit the result.
#
#   bash src/http/console/vendor/update.sh
#
# Preact (the renderer and its hooks) and htm (tagged templates instead of
# JSX, so there is no build step) as plain ES modules. The one edit: hooks.mjs
# imports the bare specifier "preact", which a browser cannot resolve without
# an import map (an inline script, which the console's CSP forbids); it is
# rewritten to the relative "./preact.mjs". The *.d.mts files beside them are
# hand-written declarations for `tsc --checkJs` and are not touched here.
set -euo pipefail
PREACT=11.2.0
HTM=3.1.1

here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "preact@$PREACT" "htm@$HTM" >/dev/null
for t in *.tgz; do mkdir "${t%.tgz}" && tar xzf "$t" -C "${t%.tgz}"; done

cp "preact-$PREACT/package/dist/preact.mjs"       "$here/preact.mjs"
cp "preact-$PREACT/package/hooks/dist/hooks.mjs"  "$here/hooks.mjs"
cp "htm-$HTM/package/dist/htm.mjs"                "$here/htm.mjs"
sed -i 's#from"preact"#from"./preact.mjs"#' "$here/hooks.mjs"
grep -q 'from"./preact.mjs"' "$here/hooks.mjs" || { echo "hooks.mjs: import not rewritten" >&2; exit 1; }
# The maps are not vendored; drop the comments that point at them.
sed -i 's#//\# sourceMappingURL=.*$##' "$here/preact.mjs" "$here/hooks.mjs" "$here/htm.mjs"
cp "preact-$PREACT/package/LICENSE" "$here/LICENSE.preact"
cp "htm-$HTM/package/LICENSE"       "$here/LICENSE.htm"

cd "$here"
sha256sum preact.mjs hooks.mjs htm.mjs LICENSE.preact LICENSE.htm > SHA256SUMS
echo "preact $PREACT, htm $HTM:"
du -ch preact.mjs hooks.mjs htm.mjs | tail -1
