#!/usr/bin/env bash
# npm run bench: ADD then DEL of pods with 1, 3 and 8 attachments, plexus against the same
# delegates run directly, in a throwaway node namespace. Root; installs what it needs.
# npm run bench -- burst [--pods N] [--rounds R] [...]: N pods ADDed at once then DELed at once,
# through the delegates directly, thin mode and daemon mode (test/bench/burst.ts).
# npm run bench -- executables [EXE ...]: start-up time and memory of plexus executables side by
# side (test/bench/executables.ts).
# npm run bench -- caches: the daemon's pod and NAD caches' heap for 110 pods and 1,000 NADs
# (test/bench/caches.ts).
# npm run bench -- churn [--history N] [--iterations I]: ADD and DEL time and the state dir's size
# with 0 ... 100,000 deleted containers in the node's history (test/bench/churn.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "npm run bench: run as root (it creates network namespaces)" >&2; exit 1; }
bash .ci/e2e-prereqs.sh >/dev/null
command -v /usr/bin/time >/dev/null 2>&1 || { apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time; }; }
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
if [ "${1:-}" = burst ]; then
  shift
  npx esbuild test/bench/burst.ts --bundle --platform=node --target=node20 --format=cjs --outfile=dist/bench-burst.cjs --log-level=warning
  exec node dist/bench-burst.cjs "$@"
fi
if [ "${1:-}" = executables ]; then
  shift
  npx esbuild test/bench/executables.ts --bundle --platform=node --target=node20 --format=cjs --outfile=dist/bench-executables.cjs --log-level=warning
  exec node dist/bench-executables.cjs "$@"
fi
if [ "${1:-}" = churn ]; then
  shift
  npx esbuild test/bench/churn.ts --bundle --platform=node --target=node20 --format=cjs --outfile=dist/bench-churn.cjs --log-level=warning
  exec node dist/bench-churn.cjs "$@"
fi
if [ "${1:-}" = caches ]; then
  npx esbuild test/bench/caches.ts --bundle --platform=node --target=node20 --format=cjs --outfile=dist/bench-caches.cjs --log-level=warning
  exec node dist/bench-caches.cjs
fi
npx esbuild test/bench/bench.ts --bundle --platform=node --target=node20 --format=cjs --outfile=dist/bench.cjs --log-level=warning
exec node dist/bench.cjs "$@"
