#!/usr/bin/env bash
# The demo command (README): from a clean clone, as root. Installs what it needs (Debian's
# containernetworking-plugins, npm dependencies), builds Plexus, and runs examples/demo/demo.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
  echo "the demo creates network namespaces: run it as root (sudo npm run demo)" >&2
  exit 1
fi
need=()
[ -x /usr/lib/cni/macvlan ] || [ -x /opt/cni/bin/macvlan ] || need+=(containernetworking-plugins)
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v curl >/dev/null || need+=(curl)
# The build compiles daemon mode's shim with gcc -static.
{ command -v gcc >/dev/null && [ "$(gcc -print-file-name=libc.a)" != libc.a ]; } || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-remove "${need[@]}" >/dev/null
fi
command -v kubectl >/dev/null || { echo "the demo drives Plexus with kubectl: install kubectl first" >&2; exit 1; }
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "==> building Plexus (dist/plexus)"
npm run --silent build >/dev/null 2>&1 || npm run build
npx esbuild examples/demo/demo.ts --bundle --platform=node --target=node20 --format=cjs --outfile=dist/demo.cjs --log-level=warning
exec node dist/demo.cjs "$@"
