#!/usr/bin/env bash
# Refreshes the GraphiQL playground's vendored browser assets from the npm
# registry (npm pack: the tarballs npm itself verifies). Pin the versions here,
# run it, check the playground in a browser (tests/js), commit the result.
#
#   bash src/http/playground/update.sh
#
# The page in ../playground.rs loads exactly these files, with the GraphiQL
# version in their URLs; bump GRAPHIQL_VERSION there too when it changes.
set -euo pipefail
GRAPHIQL=4.1.2
REACT=18.3.1

here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null
for t in *.tgz; do mkdir "${t%.tgz}" && tar xzf "$t" -C "${t%.tgz}"; done

cp "graphiql-$GRAPHIQL/package/graphiql.min.js"          "$here/graphiql.min.js"
cp "graphiql-$GRAPHIQL/package/graphiql.min.css"         "$here/graphiql.min.css"
cp "react-$REACT/package/umd/react.production.min.js"    "$here/react.production.min.js"
cp "react-dom-$REACT/package/umd/react-dom.production.min.js" "$here/react-dom.production.min.js"
# The bundles end with a sourceMappingURL comment; the maps are not vendored.
sed -i '/^\/\/# sourceMappingURL=/d' "$here/graphiql.min.js"
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' "$here/graphiql.min.css"
cp "graphiql-$GRAPHIQL/package/LICENSE"  "$here/LICENSE.graphiql"
cp "react-$REACT/package/LICENSE"        "$here/LICENSE.react"

cd "$here"
sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js > SHA256SUMS
echo "graphiql $GRAPHIQL, react/react-dom $REACT:"
du -ch graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js | tail -1
